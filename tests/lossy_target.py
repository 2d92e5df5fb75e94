#!/usr/bin/env python3
"""A loader that loses one batch and says nothing: the real target, minus some RECORD lines.

For tests only (tests/test_scheduled_runs.py defines it in a runner's meltano.yml as
`target-postgres--lossy`, `inherit_from: target-postgres`, this file as its executable). It
passes every Singer message to the real target of its venv (`$VIRTUAL_ENV/bin/<LOSSY_TARGET>`),
STATE included, so Meltano saves the state of rows the warehouse never got, except
`LOSSY_COUNT` RECORD lines of stream `LOSSY_STREAM` after its first `LOSSY_SKIP`. It loses
them once: the dropped records go to the file `LOSSY_DROPPED` (JSON lines), and while that
file exists every message passes. It exits with the real target's status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def main() -> int:
    """Run the real target with this process's arguments, feeding it the filtered messages."""
    target = Path(os.environ["VIRTUAL_ENV"]) / "bin" / os.environ["LOSSY_TARGET"]
    dropped_file = Path(os.environ["LOSSY_DROPPED"])
    stream = os.environ["LOSSY_STREAM"]
    skip, count = int(os.environ["LOSSY_SKIP"]), int(os.environ["LOSSY_COUNT"])
    lose = not dropped_file.exists()
    seen, dropped = 0, []
    process = subprocess.Popen([str(target), *sys.argv[1:]], stdin=subprocess.PIPE)
    assert process.stdin is not None
    for line in sys.stdin.buffer:
        if lose and b'"RECORD"' in line:
            message = json.loads(line)
            if message.get("type") == "RECORD" and message.get("stream") == stream:
                seen += 1
                if skip < seen <= skip + count:
                    dropped.append(message["record"])
                    continue
        process.stdin.write(line)
    process.stdin.close()
    if lose:
        dropped_file.write_text("".join(json.dumps(r) + "\n" for r in dropped))
    return process.wait()


if __name__ == "__main__":
    sys.exit(main())
