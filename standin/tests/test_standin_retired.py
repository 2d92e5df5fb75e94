"""Retired datasets and fields: the schema loses them, and queries naming them fail validation."""

from __future__ import annotations

from typing import Any

from cloudflare_standin.__main__ import _parser, config_from_args
from cloudflare_standin.testing import (
    ACCOUNT,
    SETTINGS_QUERY,
    base_config,
    dataset_query,
    post,
    running,
    variables,
)

PLAYBACK = "videoPlaybackEventsAdaptiveGroups"
QUALITY = "videoQualityEventsAdaptiveGroups"
DAY = {"date_geq": "2026-09-30", "date_leq": "2026-10-01"}
PLAYER_DIMENSIONS = ["date", "uid", "clientCountryName", "deviceType", "deviceOs"]


def _error(response: Any) -> tuple[int, str]:
    body = response.json()
    assert body["data"] is None
    return response.status_code, body["errors"][0]["message"]


def _settings_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    settings: dict[str, Any] = response.json()["data"]["viewer"]["accounts"][0]["settings"]
    return settings


def test_a_retired_dataset_is_gone_from_the_node_and_from_settings() -> None:
    config = base_config(retired_datasets={QUALITY})
    settings_without = SETTINGS_QUERY.replace(
        f"{QUALITY} {{", "_q: videoBufferEventsAdaptiveGroups {"
    )
    with running(config) as server:
        status, message = _error(post(server.url, SETTINGS_QUERY, {"accountTag": ACCOUNT}))
        assert status == 400
        assert message.startswith(f"Cannot query field '{QUALITY}' on type 'AccountSettings'.")
        status, message = _error(post(server.url, dataset_query(QUALITY), variables(DAY)))
        assert (status, message.split(".")[0]) == (
            400,
            f"Cannot query field '{QUALITY}' on type 'account'",
        )
        assert QUALITY not in _settings_of(
            post(server.url, settings_without, {"accountTag": ACCOUNT})
        )
        answer = post(server.url, dataset_query(PLAYBACK), variables(DAY))
        assert answer.status_code == 200
        assert answer.json()["data"]["viewer"]["accounts"][0][PLAYBACK]
        # Restored: the same server answers the dataset again.
        config.retired_datasets.clear()
        assert post(server.url, dataset_query(QUALITY), variables(DAY)).status_code == 200
        assert QUALITY in _settings_of(post(server.url, SETTINGS_QUERY, {"accountTag": ACCOUNT}))


def test_a_node_can_go_while_its_settings_stay() -> None:
    with running(base_config(retired_nodes={QUALITY})) as server:
        assert QUALITY in _settings_of(post(server.url, SETTINGS_QUERY, {"accountTag": ACCOUNT}))
        status, message = _error(post(server.url, dataset_query(QUALITY), variables(DAY)))
        assert (status, message.split(".")[0]) == (
            400,
            f"Cannot query field '{QUALITY}' on type 'account'",
        )


def test_a_retired_field_fails_selections_filters_and_orders_that_name_it() -> None:
    config = base_config(retired_fields={PLAYBACK: ["dimensions.deviceBrowser"]})
    with running(config) as server:
        status, message = _error(post(server.url, dataset_query(PLAYBACK), variables(DAY)))
        assert status == 400
        assert message.startswith(
            "Cannot query field 'deviceBrowser' on type "
            "'AccountVideoPlaybackEventsAdaptiveGroupsDimensions'."
        )
        without = dataset_query(PLAYBACK, dimensions=PLAYER_DIMENSIONS)
        assert post(server.url, without, variables(DAY)).status_code == 200
        seek = post(server.url, without, variables({**DAY, "deviceBrowser_gt": "Chrome"}))
        assert "deviceBrowser_gt" in _error(seek)[1]
        ordered = post(server.url, without, variables(DAY, order=["deviceBrowser_ASC"]))
        assert "deviceBrowser_ASC" in _error(ordered)[1]
        available = _settings_of(post(server.url, SETTINGS_QUERY, {"accountTag": ACCOUNT}))
        assert "dimensions.deviceBrowser" not in available[PLAYBACK]["availableFields"]
        assert "dimensions.deviceBrowser" in available[QUALITY]["availableFields"]
        # Only that dataset lost it.
        assert post(server.url, dataset_query(QUALITY), variables(DAY)).status_code == 200


def test_a_retired_metric_and_settings_field() -> None:
    config = base_config(
        retired_fields={PLAYBACK: ["sum.timeViewedMinutes"]},
        retired_settings_fields={"availableFields"},
    )
    with running(config) as server:
        _, message = _error(post(server.url, dataset_query(PLAYBACK), variables(DAY)))
        assert message.startswith("Cannot query field 'sum' on type")  # its only field
        _, message = _error(post(server.url, SETTINGS_QUERY, {"accountTag": ACCOUNT}))
        assert message.startswith("Cannot query field 'availableFields' on type 'Settings'.")


def test_command_line_retires_datasets_and_fields() -> None:
    args = _parser().parse_args(
        ["--accounts", ACCOUNT, "--retire-dataset", QUALITY,
         "--retire-field", f"{PLAYBACK}:dimensions.deviceBrowser",
         "--retire-settings-field", "availableFields"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.retired_datasets == {QUALITY}
    assert config.retired_fields == {PLAYBACK: ["dimensions.deviceBrowser"]}
    assert config.retired_settings_fields == {"availableFields"}
