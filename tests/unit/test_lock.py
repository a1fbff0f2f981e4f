import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import LockedError
from assistant.lock import WriterLock


def test_second_writer_gets_clear_error(tmp_path: Path) -> None:
    with WriterLock(tmp_path):
        code = (
            "import sys; from pathlib import Path; from assistant.lock import WriterLock\n"
            "from assistant.errors import LockedError\n"
            f"try:\n    WriterLock(Path({str(tmp_path)!r})).acquire()\nexcept LockedError as e:\n"
            "    print(e); sys.exit(3)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 3
        assert "another sourcewise process" in out.stdout
    WriterLock(tmp_path).acquire().release()  # released: free again


def test_lock_in_same_process_is_exclusive(tmp_path: Path) -> None:
    first = WriterLock(tmp_path).acquire()
    with pytest.raises(LockedError):
        WriterLock(tmp_path).acquire()
    first.release()
