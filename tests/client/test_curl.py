"""import-curl: real-looking Chrome and Firefox "Copy as cURL" strings."""

from __future__ import annotations

import pytest

from sniper.client.curl import parse_curl, to_task
from sniper.errors import ConfigError

CHROME = r"""curl 'https://shop.example.com/api/order/submit?source=h5' \
  -H 'accept: application/json, text/plain, */*' \
  -H 'accept-language: zh-CN,zh;q=0.9,en;q=0.8' \
  -H 'content-type: application/json;charset=UTF-8' \
  -b 'session=abc123def456; device_id=xyz-789' \
  -H 'origin: https://shop.example.com' \
  -H 'priority: u=1, i' \
  -H 'referer: https://shop.example.com/item/100234567' \
  -H 'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"' \
  -H 'user-agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36' \
  --data-raw $'{"skuId":"100234567","num":1,"remark":"\u5c3d\u5feb\u53d1\u8d27","note":"it\'s"}'
"""

FIREFOX = (
    "curl 'https://shop.example.com/api/order/submit' --compressed -X POST "
    "-H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' "
    "-H 'Accept: application/json' -H 'Accept-Language: zh-CN,zh;q=0.8' "
    "-H 'Accept-Encoding: gzip, deflate, br, zstd' -H 'Content-Type: application/json' "
    "-H 'Origin: https://shop.example.com' -H 'Connection: keep-alive' "
    "-H 'Cookie: session=abc123def456; device_id=xyz-789' -H 'Sec-Fetch-Mode: cors' "
    "--data-raw '{\"skuId\":\"100234567\",\"num\":1}'"
)


class TestParseCurl:
    """What the browsers emit."""

    def test_chrome(self) -> None:
        """-b cookie, continuations, $'…' body with escapes; POST implied by the data."""
        req = parse_curl(CHROME)
        assert req.method == "POST"
        assert req.url == "https://shop.example.com/api/order/submit?source=h5"
        assert req.cookie == "session=abc123def456; device_id=xyz-789"
        assert req.body == '{"skuId":"100234567","num":1,"remark":"尽快发货","note":"it\'s"}'
        assert req.headers["content-type"] == "application/json;charset=UTF-8"
        assert "cookie" not in {k.lower() for k in req.headers}
        assert req.warnings == []

    def test_firefox(self) -> None:
        """-X, a Cookie header, --compressed; Accept-Encoding and Connection dropped."""
        req = parse_curl(FIREFOX)
        assert (req.method, req.url) == ("POST", "https://shop.example.com/api/order/submit")
        assert req.cookie == "session=abc123def456; device_id=xyz-789"
        assert req.body == '{"skuId":"100234567","num":1}'
        lowered = {k.lower() for k in req.headers}
        assert {"accept-encoding", "connection", "cookie"}.isdisjoint(lowered)
        assert req.headers["Sec-Fetch-Mode"] == "cors"

    def test_data_binary_and_unknown_options(self) -> None:
        """--data-binary is a body; an unknown option is a warning, not a failure."""
        req = parse_curl("curl -k --data-binary 'a=1' http://127.0.0.1:8000/x")
        assert (req.method, req.body, req.url) == ("POST", "a=1", "http://127.0.0.1:8000/x")
        assert req.warnings == ["ignored curl option -k"]

    @pytest.mark.parametrize(("command", "message"), [
        ("wget http://x", "must start with curl"),
        ("curl -H 'a: b'", "no http"),
        ("curl 'http://x", "cannot split"),
    ])
    def test_errors(self, command: str, message: str) -> None:
        """Not curl, no URL, broken quoting."""
        with pytest.raises(ConfigError, match=message):
            parse_curl(command)


def test_to_task_puts_placeholders_and_moves_the_cookie() -> None:
    """The sku id becomes {sku_id}; the cookie lives in its own file, not in the request."""
    task = to_task(parse_curl(FIREFOX), sku_id="100234567",
                   target_time="2024-04-15T07:00:00+08:00", cookie_file="t.yaml.cookie")
    request = task["request"]
    assert isinstance(request, dict)
    assert request["body"] == '{"skuId":"{sku_id}","num":1}'
    assert task["cookie_file"] == "t.yaml.cookie"
    assert task["base_url"] == "https://shop.example.com"
    assert "abc123" not in str(task)
