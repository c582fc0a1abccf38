"""Report words in Bahasa Indonesia (default) and English, and number formats for each."""

from __future__ import annotations

from collections.abc import Callable

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


def number(value: float | None, decimals: int, lang: str) -> str:
    """1234.5 → '1.234,5' (id) or '1,234.5' (en); None → '–'."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    if lang == "id":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


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
