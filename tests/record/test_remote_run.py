"""replay and compare take fsspec URLs: the recording is fetched into a local temporary file,
with a size cap, and anything that is not a recording is refused with a clear error."""

from __future__ import annotations

import json

import pytest

fsspec = pytest.importorskip("fsspec")

from nnviz3d import cli  # noqa: E402
from nnviz3d.record import RunFileError, RunReader  # noqa: E402
from nnviz3d.record.remote_run import is_url, local_copy  # noqa: E402
from tests.record.frames import write_run  # noqa: E402


@pytest.fixture
def memfs():
    fs = fsspec.filesystem("memory")
    yield fs
    for path in fs.find("/nnviz3d-test"):
        fs.rm(path)


def put(fs, name: str, data: bytes) -> str:
    with fs.open(f"/nnviz3d-test/{name}", "wb") as f:
        f.write(data)
    return f"memory://nnviz3d-test/{name}"


def test_paths_are_left_alone():
    assert not is_url("runs/a.nnv3d") and not is_url("C:\\runs\\a.nnv3d")
    assert is_url("s3://bucket/a.nnv3d") and is_url("file:///tmp/a.nnv3d")
    assert local_copy("runs/a.nnv3d") == "runs/a.nnv3d"


def test_memory_and_file_urls_replay(tmp_path, memfs, capsys):
    run = write_run(tmp_path / "a.nnv3d", steps=4)
    for url in (put(memfs, "a.nnv3d", run.read_bytes()), run.as_uri()):
        local = local_copy(url)
        assert local != str(run)
        with RunReader(local) as r:
            assert r.summary()["steps"] == 4
        assert cli.main(["replay", url, "--summary", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["frames"] == 4


@pytest.mark.parametrize(
    "data, why",
    [
        (b"<html>not found</html>" * 10, "not a recording"),
        (b"", "not a recording"),
        (b"SQLite", "not a recording"),
    ],
)
def test_a_url_to_something_else_is_refused(memfs, data, why):
    with pytest.raises(RunFileError, match=why):
        local_copy(put(memfs, "x.nnv3d", data))


def test_a_missing_url_and_a_folder_are_refused(memfs, capsys):
    with pytest.raises(RunFileError, match="no such file"):
        local_copy("memory://nnviz3d-test/absent.nnv3d")
    put(memfs, "dir/a", b"x")
    with pytest.raises(RunFileError, match="not a recording"):
        local_copy("memory://nnviz3d-test/dir")
    assert cli.main(["replay", "memory://nnviz3d-test/absent.nnv3d", "--summary"]) != 0
    assert "no such file" in capsys.readouterr().err


def test_a_huge_file_is_refused_before_it_is_read(memfs, monkeypatch):
    url = put(memfs, "big.nnv3d", b"SQLite format 3\x00" + b"\x00" * 100)
    opened = []
    real_info = type(memfs).info

    def claims_huge(self, path, **kw):
        info = real_info(self, path, **kw)
        return {**info, "size": 1 << 50}

    monkeypatch.setattr(type(memfs), "info", claims_huge)
    monkeypatch.setattr(type(memfs), "_open", lambda *a, **k: opened.append(a) or 1 / 0)
    with pytest.raises(RunFileError, match="more than the"):
        local_copy(url)
    assert not opened


def test_a_file_longer_than_it_claims_stops_at_the_cap(memfs, monkeypatch):
    url = put(memfs, "long.nnv3d", b"SQLite format 3\x00" + b"\x00" * 5000)
    real_info = type(memfs).info
    monkeypatch.setattr(
        type(memfs), "info", lambda self, path, **kw: {**real_info(self, path, **kw), "size": 10}
    )
    with pytest.raises(RunFileError, match="more than 1,000 bytes"):
        local_copy(url, max_bytes=1000)


def test_compare_takes_urls(tmp_path, memfs, monkeypatch):
    a = write_run(tmp_path / "a.nnv3d", steps=3)
    b = write_run(tmp_path / "b.nnv3d", steps=3)
    seen = []
    monkeypatch.setattr(
        "nnviz3d.compare.serve_compare",
        lambda x, y, **kw: seen.append((x, y)) or (_ for _ in ()).throw(ValueError("stop")),
    )
    url = put(memfs, "b.nnv3d", b.read_bytes())
    assert cli.main(["compare", str(a), url, "--no-browser"]) != 0
    x, y = seen[0]
    assert x == str(a) and y != url and RunReader(y).summary()["steps"] == 3
