"""HttpClient.download(resume=True) against a real server on loopback (werkzeug's send_file)."""

from __future__ import annotations

import io

import pytest
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from civickit.errors import ServiceUnavailable
from civickit.http import HttpClient


class Files:
    """Serves ``body`` with ETag ``etag`` (ranges and conditions by werkzeug); can cut one off."""

    def __init__(self, body: bytes, etag: str = "v1", *, validators: bool = True) -> None:
        self.body, self.etag, self.validators = body, etag, validators
        self.cut_next = False
        self.seen: list[dict[str, str]] = []

    def __call__(self, environ, start_response):
        self.seen.append(dict(Request(environ).headers))
        if self.cut_next:
            self.cut_next = False
            headers = {"ETag": f'"{self.etag}"'} if self.validators else {}
            response = Response(self.body[: len(self.body) // 2], headers=headers)
            response.headers["Content-Length"] = str(len(self.body))
            response.automatically_set_content_length = False
        elif self.validators:
            response = send_file(
                io.BytesIO(self.body), environ, download_name="f.zip", etag=self.etag
            )
        else:
            response = Response(self.body, mimetype="application/zip")
        return response(environ, start_response)


BODY = bytes(range(256)) * 4096  # 1 MiB: several chunks


def test_a_cut_off_download_resumes_and_the_result_is_whole(serve, tmp_path):
    files = Files(BODY)
    url = serve(files).url + "/f.zip"
    http = HttpClient(retries=0)
    files.cut_next = True
    with pytest.raises(ServiceUnavailable, match="run it again to resume"):
        http.download(url, tmp_path / "f.zip", resume=True)
    assert not (tmp_path / "f.zip").exists()
    kept = (tmp_path / ".f.zip.partial").stat().st_size
    done = http.download(url, tmp_path / "f.zip", resume=True)
    assert done.changed and (tmp_path / "f.zip").read_bytes() == BODY
    assert files.seen[-1]["Range"] == f"bytes={kept}-"
    assert not (tmp_path / ".f.zip.partial").exists()
    again = http.download(url, tmp_path / "f.zip", resume=True)
    assert not again.changed and files.seen[-1]["If-None-Match"] == '"v1"'


def test_a_file_changed_on_the_server_is_fetched_whole(serve, tmp_path):
    files = Files(BODY)
    url = serve(files).url + "/f.zip"
    http = HttpClient(retries=0)
    files.cut_next = True
    with pytest.raises(ServiceUnavailable):
        http.download(url, tmp_path / "f.zip", resume=True)
    files.body, files.etag = BODY[::-1], "v2"  # If-Range no longer matches: a 200, whole
    http.download(url, tmp_path / "f.zip", resume=True)
    assert (tmp_path / "f.zip").read_bytes() == BODY[::-1]


def test_without_validators_nothing_is_kept_to_resume(serve, tmp_path):
    files = Files(BODY, validators=False)
    url = serve(files).url + "/f.zip"
    files.cut_next = True
    with pytest.raises(ServiceUnavailable) as caught:
        HttpClient(retries=0).download(url, tmp_path / "f.zip", resume=True)
    assert "resume" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []
