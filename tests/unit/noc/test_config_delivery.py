"""The alerts section: defaults, targets (inline, from a private file), bad input in one line;
delivery to the right targets only, retried when a target refuses."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from pantau.collector.config import load_collector_config
from pantau.collector.noc.alerts import Alert, Notice
from pantau.collector.noc.config import AlertsConfig
from pantau.collector.noc.notify import Delivery
from pantau.collector.noc.rules import timings
from pantau.shared.errors import ConfigError
from tests.webhook import Receiver


def write(tmp_path: Path, alerts: str) -> Path:
    (tmp_path / "registry.yaml").write_text(
        "contracts: [{provider: Awinet}]\n"
        "points: [{id: cit-01, kelurahan: Citangkil, kecamatan: Citangkil, provider: Awinet}]\n"
    )
    path = tmp_path / "collector.yaml"
    path.write_text(f"registry: registry.yaml\n{alerts}")
    path.chmod(0o600)  # it may hold alert URLs inline: a secret
    return path


def test_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    config = load_collector_config(write(tmp_path, ""))
    assert (config.metrics.listen, config.metrics.port) == ("127.0.0.1", 9108)
    assert config.metrics.url() == "http://127.0.0.1:9108/metrics"
    got = {rule: (t.after_s, t.clear_s) for rule, t in timings(config.alerts).items()}
    assert got == {
        "provider_down": (300, 120),
        "unreachable": (600, 120),
        "silent": (600, 120),
        "kelurahan_down": (300, 120),
        "capacity_low": (0, 0),
        "collector_behind": (180, 0),
        "collector_buffer": (300, 0),
        "collector_down": (120, 0),
        "influx_unreachable": (120, 0),
        "evidence_rewrite": (0, 0),  # at once: a refused rewrite of stored evidence
        "no_throughput": (3600, 120),  # an hour of the router answering without WAN rates
    }


def test_rules_can_be_tuned_and_switched_off(tmp_path: Path) -> None:
    config = load_collector_config(
        write(
            tmp_path,
            "alerts:\n  clear_s: 5\n  rules:\n    provider_down: {after_s: 3, clear_s: 1}\n"
            "    silent: {after_s: 6, enabled: false}\n    capacity_low: {enabled: false}\n"
            "    no_throughput: {after_s: 900}\n",
        )
    )
    got = timings(config.alerts)
    assert (got["provider_down"].after_s, got["provider_down"].clear_s) == (3, 1)
    assert got["unreachable"].clear_s == 5
    assert (got["no_throughput"].after_s, got["no_throughput"].clear_s) == (900, 5)
    assert "silent" not in got and "capacity_low" not in got
    off = write(tmp_path, "alerts:\n  rules:\n    no_throughput: {after_s: 60, enabled: false}\n")
    assert "no_throughput" not in timings(load_collector_config(off).alerts)


def test_targets_inline_and_from_a_private_file(tmp_path: Path) -> None:
    secret = tmp_path / "targets"
    secret.write_text("# team chat\ntgram://123:abc/-100 # comment\n\njson://127.0.0.1:9/x\n")
    os.chmod(secret, 0o600)
    config = load_collector_config(
        write(tmp_path, f"alerts:\n  targets_file: {secret}\n  targets: [json://127.0.0.1:8/y]\n")
    )
    urls = [t.url.get_secret_value() for t in config.alerts.all_targets()]
    assert urls == ["json://127.0.0.1:8/y", "tgram://123:abc/-100", "json://127.0.0.1:9/x"]
    assert "abc" not in repr(config.alerts)


def test_a_targets_file_others_can_read_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "targets"
    secret.write_text("json://127.0.0.1:9/x\n")
    os.chmod(secret, 0o644)
    config = AlertsConfig(targets_file=secret)
    with pytest.raises(ConfigError, match="readable by group or others"):
        config.all_targets()


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        (
            "alerts:\n  rules:\n    provider_down: {after_s: -1}\n",
            "field 'alerts.rules.provider_down.after_s' input should be greater than 0, got -1",
        ),
        (
            "alerts:\n  rulez: {}\n",
            "field 'alerts.rulez' is not a known setting (typo?)",
        ),
        (
            "alerts:\n  targets: [{url: 'json://x', rules: [provider_dwn]}]\n",
            "target names unknown rule(s) provider_dwn",
        ),
        ("metrics: {port: 70000}\n", "field 'metrics.port' input should be less than or equal"),
    ],
)
def test_bad_settings_are_one_clear_line(tmp_path: Path, alerts: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_collector_config(write(tmp_path, alerts))
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_an_invalid_target_url_is_named_by_position_not_by_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = AlertsConfig(targets=["json://127.0.0.1:9/ok", "nonsense-secret-token"])
    with pytest.raises(ConfigError) as caught:
        Delivery(config.all_targets(), 60, "collector.yaml")
    assert str(caught.value) == "collector.yaml: alerts target 2 is not a valid apprise URL"
    assert "Unsupported URL" in caplog.text  # apprise said why, without the URL
    assert "nonsense" not in caplog.text and "secret-token" not in caplog.text


def notice(rule: str, kelurahan: str | None) -> Notice:
    alert = Alert(rule, "cit-01", 0, "Something", "", kelurahan, "cit-01", fired_ms=1000)
    return Notice("firing", alert, 1000)


def test_targets_get_only_what_they_asked_for(caplog: pytest.LogCaptureFixture) -> None:
    with Receiver() as everything, Receiver() as lurah, Receiver() as capacity:
        config = AlertsConfig(
            targets=[
                {"url": everything.url},
                {"url": lurah.url, "kelurahan": ["Citangkil"]},
                {"url": capacity.url, "rules": ["capacity_low"]},
            ]
        )
        delivery = Delivery(config.all_targets(), 60)
        assert delivery.send(notice("provider_down", "Citangkil"))
        assert delivery.send(notice("provider_down", "Samangraya"))
        assert delivery.send(notice("capacity_low", "Samangraya"))
        assert delivery.send(notice("collector_down", None))
        assert len(everything.received()) == 4
        assert len(lurah.received()) == 1
        assert len(capacity.received()) == 1


def test_a_refusing_target_is_retried_and_the_url_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with Receiver(status=503) as flaky:
        url = flaky.url.replace("/hook", "/hook?secret=tok3n")
        delivery = Delivery(AlertsConfig(targets=[url]).all_targets(), 3600)
        assert delivery.send(notice("provider_down", "Citangkil")) is False
        assert delivery.waiting == 1
        delivery.retry()
        assert delivery.waiting == 1
        flaky.status = 200
        delivery.retry()
        assert delivery.waiting == 0
        assert flaky.refused == 2
        assert len(flaky.received()) == 1
    assert "tok3n" not in caplog.text
    assert "alert target 1 did not take" in caplog.text
    assert caplog.text.count("did not take") == 1  # once per outage of the target
