"""kombu's filesystem transport (the embedded default's broker, docs/adr/0006), changed in one
respect: a consumer lists the folder once and works through that listing, instead of listing and
sorting the whole folder again for every message it fetches.

Every queue's messages are files in one folder. kombu's channel lists and sorts the folder on each
fetch and scans from the front for the queue's oldest file; with a backlog of thousands of files
(the demo's history, or workers that were stopped for a while) that costs tens of milliseconds
per message, more than most tasks take, and the further behind a worker is, the slower it
gets. Here each channel keeps, per queue, the sorted names of that queue's files it saw, and lists
again once they are used up: a file written meanwhile waits for the next listing, which comes as
soon as the ones before it are taken. The file names start with the time they were written, so
each listing is in the order sent, as kombu's. Several consumers of one queue stay safe as in
kombu: a file another consumer moved away first is skipped.

One listing serves every queue of the channel. A worker polls each queue it consumes in turn,
its service's queue and its remote-control queue, which is nearly always empty; a queue a
listing found empty is listed again only ``EMPTY_RELIST_SECONDS`` later, so a worker working
through a backlog lists the folder once per backlog rather than once per message.

Two smaller changes on the producing side: a file is named by the monotonic clock in nanoseconds
(kombu's milliseconds leave the order of a burst of messages to chance), and it is written under
a temporary name and renamed into place, so a consumer never reads half a message.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections import defaultdict, deque
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

# Wide enough for any uptime: names sort in the order they were written.
_CLOCK_DIGITS = 20
# A queue a listing found empty is not listed again before this: half the polling interval.
EMPTY_RELIST_SECONDS = 0.5


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listed: dict[str, deque[str]] = {}
        self._found_empty: dict[str, float] = {}  # queue -> when a listing found nothing

    def _listing(self, queue: str) -> deque[str]:
        names = self._listed.get(queue)
        if names:
            return names
        now = time.monotonic()
        found_empty = self._found_empty.get(queue)
        if found_empty is not None and now - found_empty < EMPTY_RELIST_SECONDS:
            return deque()
        by_queue: dict[str, list[str]] = defaultdict(list)
        for name in os.listdir(self.data_folder_in):
            queue_of, _, extension = name.partition(".")[2].rpartition(".")
            if extension == "msg":
                by_queue[queue_of].append(name)
        self._listed = {name: deque(sorted(files)) for name, files in by_queue.items()}
        self._found_empty = {
            name: when for name, when in self._found_empty.items() if name not in by_queue
        }
        names = self._listed.get(queue)
        if not names:
            self._found_empty[queue] = now
            return deque()
        return names

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{time.monotonic_ns():0{_CLOCK_DIGITS}d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.partial"  # not "<queue>.msg": no consumer takes it
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(message)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        names = self._listing(queue)
        processed = self.processed_folder if self.store_processed else tempfile.gettempdir()
        while names:
            filename = names.popleft()
            try:
                # Moving it away is what claims it: of two consumers, one move succeeds.
                shutil.move(os.path.join(self.data_folder_in, filename), processed)
            except OSError:
                continue
            path = os.path.join(processed, filename)
            try:
                with open(path, "rb") as file:
                    payload = file.read()
                if not self.store_processed:
                    os.remove(path)
            except OSError as exc:
                raise ChannelError(f"Cannot read file {path!r} from queue.") from exc
            return loads(bytes_to_str(payload))
        raise Empty()

    def _purge(self, queue: str) -> int:
        self._listed.pop(queue, None)
        self._found_empty.pop(queue, None)
        count: int = super()._purge(queue)
        return count


class Transport(filesystem.Transport):
    Channel = Channel
