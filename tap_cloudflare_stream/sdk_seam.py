"""The one seam to singer-sdk's internals: every private name of singer-sdk the tap relies on.

No other module imports a private singer-sdk module or overrides an underscore method. The tap
subclasses `SeamTap` and its streams `SeamStream`, and implement the public hooks below; each
override here says why singer-sdk's own step does not do. singer-sdk is pinned to 0.54.x for
what is here: `scripts/test-newest-sdk` (a non-blocking CI job) runs the suite against the
newest release, so a change of these internals shows up before the pin moves.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar

from singer_sdk import Tap
from singer_sdk.batch import Batcher
from singer_sdk.exceptions import ConfigValidationError

# Drops the deselected properties from a catalog entry's schema (what Tap.setup_mapper uses).
from singer_sdk.helpers._catalog import get_selected_schema

# singer-sdk's STATE writer (what Tap.state_writer is): the paced cadence subclasses it.
from singer_sdk.helpers._state import StateWriter
from singer_sdk.mapper import PluginMapper

# The parsed --config files (the type of Tap.cb_config's answer).
from singer_sdk.plugin_base import _ConfigInput as ConfigInput
from singer_sdk.streams import RESTStream, Stream

# singer-sdk's per-stream state manager: records/state.py finds partitions by key over it.
from singer_sdk.streams._state import StreamStateManager
from typing_extensions import override

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers._batch import BatchConfig
    from singer_sdk.helpers.types import Context
    from singer_sdk.singerlib import RecordMessage

__all__ = [
    "ConfigInput",
    "SeamPushStream",
    "SeamStream",
    "SeamTap",
    "StateWriter",
    "StreamStateManager",
]

_TToken = TypeVar("_TToken")


class SeamTap(Tap):
    """singer-sdk's `Tap`, with hooks for config checks, the STATE writer and signals."""

    def settings_errors(self) -> list[str]:
        """The tap's own config errors, checked before singer-sdk's JSON-schema validation."""
        return []

    def use_state_writer(self, writer: StateWriter) -> None:
        """Make `writer` the tap's STATE writer (singer-sdk has no setter for it)."""
        self._state_writer = writer

    def on_termination_signal(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM or SIGINT arrived; by default singer-sdk's handler."""
        super()._handle_termination(signum, frame)

    @override
    def setup_mapper(self) -> None:
        # Public, but here for its private helper. Why: singer-sdk 0.54 registers a deselected
        # stream with its selected schema, which has no properties, so a stream map that names
        # the stream fails with "Invalid key properties" (meltano/sdk#1942, fixed upstream by
        # meltano/sdk#3046 the same way): a deselected stream is registered with its whole
        # schema. Its records are never read.
        self.mapper = PluginMapper(plugin_config=dict(self.config), logger=self.logger)
        for entry in self.catalog.streams:
            name = entry.stream or entry.tap_stream_id
            schema = entry.schema.to_dict()
            mask = entry.metadata.resolve_selection()
            if mask[()]:
                schema = get_selected_schema(name, schema, mask)
            self.mapper.register_raw_stream_schema(name, schema, entry.key_properties)

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # Why: singer-sdk validates the JSON schema first, and a JSON-schema error prints the
        # offending value (which may be a secret). The tap's own checks name the setting only.
        if errors := self.settings_errors():
            if raise_errors:
                raise ConfigValidationError(errors[0], errors=errors) from None
            return errors
        return super()._validate_config(raise_errors=raise_errors)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # Why: singer-sdk 0.54 writes the whole state from inside the signal handler and exits
        # 0, so a cancelled run looks complete (records/output.py).
        self.on_termination_signal(signum, frame)


class SeamStream(RESTStream[_TToken]):
    """singer-sdk's HTTP stream, its private steps turned into public hooks for the tap.

    Each hook's default is singer-sdk's own step, so that a test can compare the tap's path
    with singer-sdk's by putting the default back (tests/test_sync.py).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_batch_sync = False  # inside singer-sdk's batch sync (rows go to files)
        self.batch_messages = 0  # BATCH messages this stream wrote

    # What singer-sdk keeps private, read or set by the tap's streams

    @property
    def tap(self) -> Tap:
        """The tap that runs this stream (its message and STATE writers)."""
        return self._tap

    @property
    def stream_version(self) -> int | None:
        """The table version RECORD messages carry (None: not a versioned full table)."""
        return self._stream_version

    @stream_version.setter
    def stream_version(self, version: int | None) -> None:
        self._stream_version = version

    def write_state_message(self) -> None:
        """Write a STATE message now (through `may_write_state`)."""
        self._write_state_message()

    def write_activate_version_message(self, version: int) -> None:
        """Write an ACTIVATE_VERSION message for `version`."""
        self._write_activate_version_message(version)

    # Hooks, singer-sdk's own steps by default

    def new_state_manager(self, **kwargs: Any) -> StreamStateManager:
        """The stream's state manager (keyword arguments as singer-sdk passes them)."""
        return StreamStateManager(**kwargs)

    def may_write_state(self) -> bool:
        """Whether a STATE message may go out now."""
        return True

    def record_messages(self, record: dict[str, Any]) -> Generator[RecordMessage, None, None]:
        """The RECORD messages of one record: singer-sdk's selection, conformance and maps."""
        return super()._generate_record_messages(record)

    def process_record(
        self,
        record: dict[str, Any],
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        """singer-sdk's per-record step: partition keys into the record, child contexts."""
        super()._process_record(record, child_context, partition_context)

    def increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        """singer-sdk's bookmark update for one record."""
        super()._increment_stream_state(latest_record, context=context)

    def before_records(self, context: Context | None, *, write_messages: bool) -> None:
        """The stream's records are about to be read (one call per sync, or per partition)."""

    def after_records(self, context: Context | None, *, write_messages: bool) -> None:
        """Every record of the sync (or partition) was read and written."""

    # The overrides, each turning a private step into its hook

    @override
    @property
    def state_manager(self) -> StreamStateManager:
        # Why: singer-sdk builds its manager here, with no factory to override.
        if self._state_manager is None:
            self._state_manager = self.new_state_manager(
                tap_name=self.tap_name,
                stream_name=self.name,
                tap_state=self._tap_state,
                state_partitioning_keys=self.state_partitioning_keys,
                is_sorted=self.is_sorted,
                check_sorted=self.check_sorted,
            )
        return self._state_manager

    def after_batches(self, context: Context | None) -> None:
        """A batch sync wrote its last BATCH message (batch mode only)."""

    @override
    def _write_state_message(self) -> None:
        # Why: in batch mode singer-sdk writes a STATE before the BATCH message that names the
        # rows it covers; the tap holds such a STATE back.
        if self.may_write_state():
            super()._write_state_message()

    @override
    def _sync_batches(self, batch_config: BatchConfig, context: Context | None = None) -> None:
        # Why: the STATE rule above needs to know a batch sync is under way, and what follows
        # a stream's rows (the catalog's listings) must wait for the BATCH messages naming them.
        self.in_batch_sync = True
        try:
            super()._sync_batches(batch_config, context)
        finally:
            self.in_batch_sync = False
        self.after_batches(context)

    @override
    def _write_batch_message(self, encoding: Any, manifest: list[str]) -> None:
        # Why: the STATE rule above needs to know a BATCH message went out.
        super()._write_batch_message(encoding, manifest)
        self.batch_messages += 1

    @override
    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        # Why: singer-sdk's generic per-record steps cost more than decoding the page; the lean
        # path (records/record_path.py) skips those that cannot change the output.
        return self.record_messages(record)

    @override
    def _process_record(
        self,
        record: dict[str, Any],
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # Why: as above, a per-record step that is a no-op for records carrying their partition.
        self.process_record(record, child_context, partition_context)

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        # Why: as above, a bookmark update per record where one per date or hour does.
        self.increment_stream_state(latest_record, context=context)

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        # Why: singer-sdk sends ACTIVATE_VERSION before a full table's records; the catalog
        # sends it after them, once every account was listed (catalog/stream.py).
        self.before_records(context, write_messages=write_messages)
        yield from super()._sync_records(context, write_messages=write_messages)
        self.after_records(context, write_messages=write_messages)


class SeamPushStream(Stream):
    """singer-sdk's Stream, for records that other streams hand it while they sync.

    singer-sdk writes a stream's records only in its own turn of the sync (streams run in name
    order); `write_records` writes some now, after the stream's SCHEMA, as singer-sdk's own
    steps would: RECORD messages through its selection, type conformance and stream maps, or in
    batch mode one batch file and its BATCH message. Its own turn reads no records.
    """

    _schema_written = False

    def write_records(self, records: list[dict[str, Any]]) -> None:
        """Write these records now (the stream's SCHEMA first, once)."""
        self._write_schema_message()
        batch_config = self.get_batch_config(self.config)
        if batch_config is None:
            for record in records:
                self._write_record_message(record)
            return
        batcher = Batcher(tap_name=self.tap_name, stream_name=self.name, batch_config=batch_config)
        for manifest in batcher.get_batches(records=iter(records)):
            self._write_batch_message(encoding=batch_config.encoding, manifest=manifest)

    @override
    def get_records(self, context: Context | None) -> list[dict[str, Any]]:
        return []

    @override
    def _write_schema_message(self) -> None:
        # Why: the SCHEMA must precede the first record, which may come before the stream's own
        # turn (where singer-sdk writes it) or after; once is enough.
        if not self._schema_written:
            super()._write_schema_message()
            self._schema_written = True

    @override
    def _write_state_message(self) -> None:
        # Why: the stream keeps no state and its own turn reads nothing: singer-sdk's STATE at
        # the end of that turn would only repeat the incoming state (in batch mode, before any
        # BATCH message).
        return
