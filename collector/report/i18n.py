"""Report words in Bahasa Indonesia (default) and English, and number formats for each."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal

LANGS = ("id", "en")

_TEXT: dict[str, tuple[str, str]] = {
    "title": ("Laporan SLA Wi-Fi Publik", "Public Wi-Fi SLA report"),
    "period": ("Periode", "Period"),
    "generated": ("Dibuat", "Generated"),
    "filters": ("Filter", "Filters"),
    "summary": ("Ringkasan", "Summary"),
    "points": ("Titik", "Points"),
    "point": ("Titik", "Point"),
    "kelurahan": ("Kelurahan", "Kelurahan"),
    "kecamatan": ("Kecamatan", "Kecamatan"),
    "provider": ("Penyedia", "Provider"),
    "total": ("Total", "Total"),
    "availability": ("Ketersediaan", "Availability"),
    "target": ("Target", "Target"),
    "meets_target": ("Memenuhi target", "Meeting target"),
    "no_data": ("Tanpa data", "No data"),
    "outages": ("Gangguan", "Outages"),
    "outage_time": ("Lama gangguan", "Outage time"),
    "longest": ("Terlama", "Longest"),
    "mttr": ("Rata-rata pemulihan", "Mean time to restore"),
    "short": ("Gangguan singkat", "Short interruptions"),
    "committed": ("Komitmen", "Committed"),
    "median_speed": ("Median unduh", "Median download"),
    "pct_committed": ("% komitmen", "% of committed"),
    "peak_median": ("Median jam sibuk", "Peak-hour median"),
    "tests": ("Uji", "Tests"),
    "tests_ge_100": ("Uji ≥100 %", "Tests ≥100 %"),
    "tests_ge_80": ("Uji ≥80 %", "Tests ≥80 %"),
    "speed_80_80": ("Kecepatan 80/80", "80/80 speed"),
    "split": ("Titik ≥95 % / 80–95 % / <80 %", "Points ≥95 % / 80–95 % / <80 %"),
    "rtt": ("Latensi (median)", "Latency (median)"),
    "loss": ("Kehilangan paket", "Packet loss"),
    "utilisation": ("Pemakaian p95", "Utilisation p95"),
    "clients_peak": ("Pengguna puncak", "Peak clients"),
    "clients_mean": ("Pengguna rata-rata", "Mean clients"),
    "fee": ("Biaya", "Fee"),
    "deduction": ("Potongan", "Deduction"),
    "net": ("Dibayar", "Net payable"),
    "to_be_decided": ("Belum diputuskan", "To be decided"),
    "not_in_net": ("tidak termasuk jumlah dibayar", "not in the net payable"),
    "reason": ("Alasan", "Reason"),
    "missing_hours": ("Jam tanpa rollup", "Hours without rollup"),
    "stale_hours": ("Jam rollup terlambat", "Hours with a late rollup"),
    "sec_undecided": ("Titik yang belum diputuskan", "Points to be decided"),
    "rollup_missing": ("rollup belum dibuat", "rollup missing"),
    "rollup_stale": ("rollup terlambat", "rollup late"),
    "low_coverage": ("kelengkapan data kurang", "low data coverage"),
    "not_enough_tests": ("uji kecepatan kurang", "not enough speed tests"),
    "idr_per_mbps": ("Rp per Mbps", "Rp per Mbps"),
    "coverage": ("Kelengkapan data", "Data coverage"),
    "seq_gaps": ("Sampel hilang (seq)", "Missing samples (seq)"),
    "unsynced": ("Jam tidak sinkron", "Unsynced clock"),
    "start": ("Mulai", "Start"),
    "end": ("Selesai", "End"),
    "duration": ("Durasi", "Duration"),
    "continues": ("berlanjut", "continues"),
    "sec_availability": ("Ketersediaan per kelurahan", "Availability per kelurahan"),
    "sec_speed": ("Kecepatan terukur dibanding komitmen", "Delivered speed against committed"),
    "sec_outages": ("Linimasa gangguan", "Outage timeline"),
    "sec_clients": ("Pengguna per jam", "Clients by hour of day"),
    "sec_deduction": ("Tabel potongan", "Deduction table"),
    "sec_quality": ("Kualitas data", "Data quality"),
    "sec_points_deducted": ("Titik dengan potongan", "Points with a deduction"),
    "hour_wib": ("Jam (WIB)", "Hour (WIB)"),
    "mean_clients_axis": ("Rata-rata pengguna per titik", "Mean clients per point"),
    "points_axis": ("Jumlah titik", "Number of points"),
    "pct_axis": ("Median unduh per titik, % komitmen", "Median download per point, % of committed"),
    "day_axis": ("Tanggal", "Day"),
    "none": ("Tidak ada", "None"),
    "days": ("Hari aktif", "Active days"),
    "longest_outages": ("gangguan terlama, urut waktu mulai", "longest outages, by start"),
    "hours_unit": ("jam", "h"),
    "samples": ("Sampel", "Samples"),
    "expected": ("Diharapkan", "Expected"),
    "unreachable_min": ("Router tak terjangkau (menit)", "Router unreachable (min)"),
    "no_outages": ("Tidak ada gangguan pada periode ini.", "No outages in this period."),
    "no_tests": ("Belum ada uji kecepatan pada periode ini.", "No speed tests in this period."),
    "more_points": (
        "titik lain dengan gangguan tidak digambar",
        "more points with outages not drawn",
    ),
    "rules": ("Aturan", "Rules"),
    "sec_verdict": ("Putusan pembayaran", "Payment verdict"),
    "sec_contract": ("Kontrak yang berlaku", "Contract in force"),
    "contract": ("Kontrak", "Contract"),
    "valid": ("Berlaku", "Valid"),
    "open_ended": ("tanpa batas", "open-ended"),
    "fee_point": ("Biaya per titik per bulan", "Fee per point per month"),
    "committed_speed": ("Kecepatan komitmen (unduh/unggah)", "Committed speed (down/up)"),
    "availability_target": ("Target ketersediaan", "Availability target"),
    "outage_threshold": ("Ambang gangguan", "Outage threshold"),
    "peak_window": ("Jam sibuk (WIB)", "Peak window (WIB)"),
    "schedule_availability": ("Potongan ketersediaan", "Availability deductions"),
    "schedule_speed": ("Potongan kecepatan", "Speed deductions"),
    "speed_none": (
        "tidak ada (kecepatan tidak memengaruhi pembayaran)",
        "none (speed does not change the payment)",
    ),
    "speed_brackets": (
        "median uji jam sibuk, % kecepatan acuan",
        "median of the peak-window tests, % of the judged speed",
    ),
    "speed_per_mbps": (
        "bayar biaya × terukur / acuan (maks. 100 %)",
        "pay fee × delivered / judged (at most 100 %)",
    ),
    "speed_compliance": (
        "≥ {tests} % uji jam sibuk mencapai {speed} % kecepatan acuan dan ≥ {lat} % sampel"
        " latensi ≤ {ms} ms; jika tidak: potongan {ded} %",
        "≥ {tests} % of peak-window tests reach {speed} % of the judged speed and ≥ {lat} % of"
        " latency samples ≤ {ms} ms; otherwise {ded} % deducted",
    ),
    "judged_speed": ("Kecepatan acuan", "Judged speed"),
    "judged_speed_value": (
        "{committed} Mbps − kelonggaran goodput TCP {allowance} % = {judged} Mbps",
        "{committed} Mbps less the TCP goodput allowance of {allowance} % = {judged} Mbps",
    ),
    "min_tests": ("Minimum uji jam sibuk untuk putusan", "Peak-window tests needed for a verdict"),
    "combine": ("Gabungan potongan", "Deductions combined"),
    "combine_sum": ("dijumlahkan, paling banyak 100 % biaya", "added, at most 100 % of the fee"),
    "combine_max": ("yang terbesar dari keduanya", "the larger of the two"),
    "min_coverage": ("Kelengkapan data minimum", "Minimum data coverage"),
    "no_data_down": ("Tanpa data dihitung gangguan", "No data counted as down"),
    "yes": ("ya", "yes"),
    "no": ("tidak", "no"),
    "overrides": ("Ketentuan khusus kelurahan", "Kelurahan terms"),
    "page": ("Halaman", "Page"),
    "of": ("dari", "of"),
    "fingerprint": ("sidik jari data", "data fingerprint"),
    "provisional_mark": ("SEMENTARA", "PROVISIONAL"),
    "sec_signoff": ("Pengesahan", "Sign-off"),
    "prepared": ("Disiapkan oleh", "Prepared by"),
    "checked": ("Diperiksa oleh", "Checked by"),
    "approved": ("Disetujui oleh", "Approved by"),
    "name": ("Nama", "Name"),
    "position": ("Jabatan / NIP", "Position"),
    "date": ("Tanggal", "Date"),
    "signature": ("Tanda tangan", "Signature"),
    "speed_peak_pct": ("Jam sibuk, % acuan", "Peak, % of judged"),
    "speed_verdict": ("Putusan kecepatan", "Speed verdict"),
    "deduction_availability": ("Potongan ketersediaan", "Availability deduction"),
    "deduction_speed": ("Potongan kecepatan", "Speed deduction"),
    "met": ("memenuhi", "met"),
    "speed_short": ("kurang", "short"),
    "not_judged": ("tidak dinilai", "not judged"),
    "no_schedule": ("tanpa jadwal", "no schedule"),
    "rule_minutes": (
        "Setiap menit: naik, gangguan penyedia (WAN gagal), tanpa data, atau dikecualikan"
        " (pemeliharaan).",
        "Each minute is up, provider_down (WAN failing), no_data, or excluded (maintenance).",
    ),
    "rule_outage": (
        "Gangguan: penyedia down berturut-turut ≥ ambang kontrak; yang lebih singkat dihitung naik.",
        "Outage: provider_down for at least the contract threshold; shorter runs count as up.",
    ),
    "rule_availability": (
        "Ketersediaan = naik / (naik + gangguan); tanpa data dilaporkan terpisah.",
        "Availability = up / (up + outage); no_data is reported beside it.",
    ),
    "rule_capacity": (
        "Kecepatan hanya dari uji aktif; 80/80 = kecepatan yang dicapai 80 % titik"
        " pada ≥ 80 % uji.",
        "Speed from active tests only; 80/80 = the speed 80 % of points reach in ≥ 80 % of tests.",
    ),
    "rule_money": (
        "Biaya diprorata menurut hari aktif; potongan menurut jadwal penalti kontrak; biaya titik"
        " yang buktinya hilang, terlambat atau kosong belum diputuskan.",
        "Fee prorated by active days; deduction from the contract's penalty schedule; the fee"
        " of a point whose evidence is missing, late or empty is to be decided.",
    ),
}


def translator(lang: str) -> Callable[[str], str]:
    index = LANGS.index(lang)

    def t(key: str) -> str:
        return _TEXT[key][index]

    return t


def number(value: float | Decimal | None, decimals: int, lang: str) -> str:
    """1234.5 → '1.234,5' (id) or '1,234.5' (en); None → '–'."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    if lang == "id":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def judged_number(value: float | None, decimals: int, lang: str) -> str:
    """A share judged unrounded against a contract bound (availability, coverage), cut to its
    decimals instead of rounded: 89.9977 shows 89.99, never 90.00 beside a "< 90 %" bracket,
    and a value shown is never above the one judged (a bound of at most that many decimals is
    on the same side of both). The cut works on the shortest decimal text of the float, so 0.29
    stays 0.29."""
    if value is None:
        return "–"
    cut = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), ROUND_FLOOR)
    return number(cut, decimals, lang)


def rupiah(value: float | None, lang: str) -> str:
    return "–" if value is None else "Rp" + number(value, 0, lang)


def duration(seconds: float | None, lang: str) -> str:
    """3725 → '1 j 2 m' (id) or '1 h 2 m' (en)."""
    if seconds is None:
        return "–"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    h = "j" if lang == "id" else "h"
    d = "h" if lang == "id" else "d"
    if days:
        return f"{days} {d} {hours} {h}"
    return f"{hours} {h} {mins} m" if hours else f"{mins} m"


# CSV and spreadsheet headers in Bahasa Indonesia, one per column of sla.figures, in order
COLUMN_ID = {
    "level": "tingkat",
    "id": "id",
    "kelurahan": "kelurahan",
    "kecamatan": "kecamatan",
    "provider": "penyedia",
    "points": "titik",
    "active_days": "hari_aktif",
    "minutes_active": "menit_aktif",
    "minutes_excluded": "menit_dikecualikan",
    "minutes_up": "menit_naik",
    "minutes_provider_down": "menit_gangguan_penyedia",
    "minutes_no_data": "menit_tanpa_data",
    "minutes_no_sample": "menit_tanpa_sampel",
    "minutes_device_unreachable": "menit_router_tak_terjangkau",
    "minutes_wan_unknown": "menit_wan_tak_diketahui",
    "minutes_outage": "menit_gangguan",
    "minutes_short_interruption": "menit_gangguan_singkat",
    "availability_pct": "ketersediaan_pct",
    "availability_target_pct": "target_ketersediaan_pct",
    "meets_target": "memenuhi_target",
    "points_meeting_target_n": "titik_memenuhi_target",
    "no_data_pct": "tanpa_data_pct",
    "no_data_counts_as_down": "tanpa_data_dihitung_down",
    "outages_n": "jumlah_gangguan",
    "outage_total_s": "total_gangguan_dtk",
    "outage_longest_s": "gangguan_terlama_dtk",
    "mttr_s": "rata_pemulihan_dtk",
    "short_interruptions_n": "jumlah_gangguan_singkat",
    "committed_down_mbps": "komitmen_unduh_mbps",
    "committed_up_mbps": "komitmen_unggah_mbps",
    "points_tested": "titik_diuji",
    "tests_n": "jumlah_uji",
    "down_median_mbps": "median_unduh_mbps",
    "down_median_pct": "median_unduh_pct",
    "tests_ge_100_pct": "uji_ge100_pct",
    "tests_ge_80_pct": "uji_ge80_pct",
    "peak_tests_n": "uji_jam_sibuk",
    "peak_down_median_mbps": "median_unduh_jam_sibuk_mbps",
    "up_tests_n": "jumlah_uji_unggah",
    "up_median_mbps": "median_unggah_mbps",
    "speed_80_mbps": "kecepatan_80_mbps",
    "speed_class": "kelas_kecepatan",
    "speed_80_80_mbps": "kecepatan_80_80_mbps",
    "speed_80_80_pct": "kecepatan_80_80_pct",
    "points_ge95_n": "titik_ge95",
    "points_80to95_n": "titik_80sd95",
    "points_lt80_n": "titik_lt80",
    "speed_schedule": "jadwal_kecepatan",
    "goodput_allowance_pct": "kelonggaran_goodput_pct",
    "speed_judged_mbps": "kecepatan_acuan_mbps",
    "speed_min_tests": "min_uji_kecepatan",
    "speed_peak_pct": "kecepatan_jam_sibuk_pct",
    "speed_tests_reaching_pct": "uji_mencapai_pct",
    "latency_ok_pct": "latensi_memenuhi_pct",
    "speed_verdict": "putusan_kecepatan",
    "points_speed_short_n": "titik_potongan_kecepatan",
    "points_not_enough_tests_n": "titik_uji_kurang",
    "rtt_median_ms": "median_rtt_ms",
    "rtt_threshold_ms": "ambang_rtt_ms",
    "rtt_over_threshold_hours_pct": "jam_rtt_di_atas_ambang_pct",
    "loss_median_pct": "median_kehilangan_paket_pct",
    "loss_threshold_pct": "ambang_kehilangan_paket_pct",
    "loss_over_threshold_hours_pct": "jam_kehilangan_di_atas_ambang_pct",
    "jitter_median_ms": "median_jitter_ms",
    "rx_p95_mbps": "unduh_p95_mbps",
    "tx_p95_mbps": "unggah_p95_mbps",
    "utilisation_p95_pct": "pemakaian_p95_pct",
    "clients_peak": "pengguna_puncak",
    "clients_mean": "pengguna_rata_rata",
    "fee_idr": "biaya_rp",
    "deduction_rule": "aturan_potongan",
    "deduction_availability_pct": "potongan_ketersediaan_pct",
    "deduction_speed_pct": "potongan_kecepatan_pct",
    "deduction_pct": "potongan_pct",
    "deduction_idr": "potongan_rp",
    "deduction_availability_idr": "potongan_ketersediaan_rp",
    "deduction_speed_idr": "potongan_kecepatan_rp",
    "net_payable_idr": "dibayar_rp",
    "to_be_decided_idr": "belum_diputuskan_rp",
    "points_to_be_decided_n": "titik_belum_diputuskan",
    "to_be_decided_reason": "alasan_belum_diputuskan",
    "idr_per_mbps": "rp_per_mbps",
    "samples_received": "sampel_diterima",
    "samples_expected": "sampel_diharapkan",
    "coverage_pct": "kelengkapan_pct",
    "min_coverage_pct": "min_kelengkapan_pct",
    "seq_gaps": "celah_seq",
    "seq_resets": "reset_seq",
    "unsynced_samples": "sampel_jam_tidak_sinkron",
    "evidence_missing_hours": "jam_tanpa_rollup",
    "evidence_stale_hours": "jam_rollup_terlambat",
}

# Headers of the speed-test discard counts the CSV files and XLSX level sheets add after the
# figures' columns (report/discards.py COUNT_COLUMNS), in order
DISCARD_COLUMN_ID = {
    "tests_discarded_n": "uji_tidak_dihitung",
    "tests_discarded_server_loaded_n": "uji_tidak_dihitung_server_sibuk",
    "tests_discarded_server_busy_n": "uji_tidak_dihitung_server_penuh",
    "tests_discarded_retest_passed_n": "uji_tidak_dihitung_uji_ulang_lolos",
    "tests_discarded_not_confirmed_n": "uji_tidak_dihitung_tidak_dikonfirmasi",
    "peak_tests_discarded_n": "uji_jam_sibuk_tidak_dihitung",
    "tests_confirmed_by_retest_n": "uji_dikonfirmasi_uji_ulang",
}
