"""import-curl: real-looking Chrome and Firefox "Copy as cURL" strings."""

from __future__ import annotations

import pytest

from sniper.client.curl import Machine, parse_curl
from sniper.client.curltask import to_task
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
    '--data-raw \'{"skuId":"100234567","num":1}\''
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

    def test_data_binary_and_insecure(self) -> None:
        """--data-binary is a body; -k is not replayed, and said so."""
        req = parse_curl("curl -k --data-binary 'a=1' http://127.0.0.1:8000/x")
        assert (req.method, req.body, req.url) == ("POST", "a=1", "http://127.0.0.1:8000/x")
        assert req.warnings == [
            "-k is not replayed: the sniper checks the server's certificate (for a private "
            "CA, give ca_file)"
        ]

    @pytest.mark.parametrize(
        ("command", "message"),
        [
            ("wget http://x", r'must start with curl \(in the browser: "Copy as cURL \(bash\)"\)'),
            ("curl -H 'a: b'", "no http"),
            ("curl 'http://x", "cannot split"),
        ],
    )
    def test_errors(self, command: str, message: str) -> None:
        """Not curl, no URL, broken quoting."""
        with pytest.raises(ConfigError, match=message):
            parse_curl(command)


def test_to_task_puts_placeholders_and_moves_the_cookie() -> None:
    """The sku id becomes {sku_id}; the cookie lives in its own file, not in the request."""
    task = to_task(
        parse_curl(FIREFOX),
        sku_id="100234567",
        target_time="2024-04-15T07:00:00+08:00",
        cookie_file="t.yaml.cookie",
    ).task
    request = task["request"]
    assert isinstance(request, dict)
    assert request["body"] == '{"skuId":"{sku_id}","num":1}'
    assert task["cookie_file"] == "t.yaml.cookie"
    assert task["base_url"] == "https://shop.example.com"
    assert "abc123" not in str(task)


# Chrome's "Copy as cURL (cmd)" of a request like CHROME's (its escaping applied by hand: \ and "
# backslashed, then every other special character ^-escaped, ^" around each argument).
WINDOWS = (
    'curl ^"https://shop.example.com/api/order/submit?source=h5^&x=^%^41^" ^\r\n'
    '  -H ^"accept: application/json, text/plain, */*^" ^\r\n'
    '  -H ^"content-type: application/json;charset=UTF-8^" ^\r\n'
    '  -b ^"session=abc123def456; device_id=xyz-789^" ^\r\n'
    '  -H ^"sec-ch-ua: ^\\^"Chromium^\\^";v=^\\^"131^\\^", '
    '^\\^"Not_A Brand^\\^";v=^\\^"24^\\^"^" ^\r\n'
    '  --data-raw ^"^{^\\^"skuId^\\^":^\\^"100234567^\\^",^\\^"num^\\^":1,^\\^"note^\\^":'
    '^\\^"it\'s 50^% off^\\^",^\\^"path^\\^":^\\^"C:^\\^\\^\\^\\tmp^\\^",^\\^"q^\\^":'
    '^\\^"say ^\\^\\^\\^"hi^\\^\\^\\^"^\\^"^}^"\r\n'
)


class TestWindowsCmd:
    """Chrome's "Copy as cURL (cmd)": ^ line ends, ^" quotes, ^-escaped specials."""

    def test_parsed_as_the_browser_sent_it(self) -> None:
        """URL with & and %, headers with quotes, a JSON body with quotes, % and backslashes."""
        req = parse_curl(WINDOWS)
        assert (req.method, req.url) == (
            "POST",
            "https://shop.example.com/api/order/submit?source=h5&x=%41",
        )
        assert req.cookie == "session=abc123def456; device_id=xyz-789"
        assert req.headers["sec-ch-ua"] == '"Chromium";v="131", "Not_A Brand";v="24"'
        assert req.headers["content-type"] == "application/json;charset=UTF-8"
        assert req.body == (
            '{"skuId":"100234567","num":1,"note":"it\'s 50% off",'
            '"path":"C:\\\\tmp","q":"say \\"hi\\""}'
        )
        assert req.warnings == []

    def test_a_broken_one_says_to_use_the_bash_form(self) -> None:
        """An unclosed quote: one line that names "Copy as cURL (bash)"."""
        with pytest.raises(ConfigError, match=r'never closed.*"Copy as cURL \(bash\)"'):
            parse_curl('curl ^"https://shop.example.com/^" ^\n  -H "accept: x ^\n')


def _store_curl(body: str, url: str = "http://127.0.0.1:8000/api/orders") -> str:
    return f"curl '{url}' -H 'content-type: application/json' -b 'session=s' --data-raw '{body}'"


class TestReview:
    """What the import adds, and what it warns about."""

    def test_the_stores_order_call_gets_a_request_id(self) -> None:
        """Our store's POST /api/orders: {request_id} added, and said; no request-id warning."""
        made = to_task(
            parse_curl(_store_curl('{"sku_id":"eggs","qty":1}')),
            sku_id="eggs",
            target_time=None,
            cookie_file="t.cookie",
        )
        request = made.task["request"]
        assert isinstance(request, dict)
        assert request["body"] == '{"sku_id":"{sku_id}","qty":1,"request_id":"{request_id}"}'
        assert any("request_id" in note for note in made.notes)
        assert made.warnings == []

    def test_a_captured_request_id_becomes_the_placeholder(self) -> None:
        """A literal request_id in the capture would replay one old id forever: replaced."""
        made = to_task(
            parse_curl(_store_curl('{"sku_id":"eggs","request_id":"r-1"}')),
            sku_id=None,
            target_time=None,
            cookie_file=None,
        )
        request = made.task["request"]
        assert isinstance(request, dict)
        assert request["body"] == '{"sku_id":"eggs","request_id":"{request_id}"}'

    @pytest.mark.parametrize(
        ("body", "sent"),
        [
            (
                '{"sku_id": "eggs", "qty": 1.0}',
                '{"sku_id": "eggs", "qty": 1.0,"request_id":"{request_id}"}',
            ),
            (
                '{ "request_id" : "r-1" ,\n "sku_id":"eggs" }',
                '{ "request_id" : "{request_id}" ,\n "sku_id":"eggs" }',
            ),
            (
                '{"sku_id":"eggs","qty":1e0,"request_id":null}',
                '{"sku_id":"eggs","qty":1e0,"request_id":"{request_id}"}',
            ),
        ],
    )
    def test_the_stores_body_keeps_its_bytes(self, body: str, sent: str) -> None:
        """Only the request id is written into the store's body: numbers, spacing and key
        order stay as the browser sent them."""
        made = to_task(
            parse_curl(_store_curl(body)), sku_id=None, target_time=None, cookie_file="t.cookie"
        )
        request = made.task["request"]
        assert isinstance(request, dict)
        assert request["body"] == sent

    @pytest.mark.parametrize(
        "body",
        [
            '{"sku_id":"123","price":19.90,"n":12345678901234567890.0}',
            '{"sku_id":"123","qty":1,"coupon":"X"}',
            '{"sku_id":"123","sku_id":"124"}',
            '["sku_id"]',
        ],
    )
    def test_another_shops_orders_path_is_left_as_captured(self, body: str) -> None:
        """A body with a key the store refuses (or a key twice) is not the store's order
        call, whatever its path: sent byte for byte, no note, and warned about."""
        made = to_task(
            parse_curl(_store_curl(body, "https://shop.example.com/api/orders")),
            sku_id=None,
            target_time=None,
            cookie_file="t.cookie",
        )
        request = made.task["request"]
        assert isinstance(request, dict)
        assert request["body"] == body
        assert made.notes == []
        assert any(w.startswith("the request carries no request id") for w in made.warnings)

    def test_another_shop_without_a_request_id_is_warned_about(self) -> None:
        """Not our store, no {request_id}: the burst (3) may make 3 orders."""
        made = to_task(
            parse_curl(FIREFOX), sku_id="100234567", target_time=None, cookie_file="t.cookie"
        )
        [warning] = made.warnings
        assert warning.startswith("the request carries no request id: each of the 3 requests")
        assert made.notes == []

    def test_a_request_id_placed_by_hand_is_not_warned_about(self) -> None:
        """{request_id} in the captured body (put there by the user) is enough."""
        made = to_task(
            parse_curl(
                _store_curl('{"sku":"1","rid":"{request_id}"}', "https://shop.example.com/buy")
            ),
            sku_id=None,
            target_time=None,
            cookie_file="t.cookie",
        )
        assert made.warnings == []

    @pytest.mark.parametrize(
        ("command", "sku_id", "warning"),
        [
            (
                "curl 'https://shop.example.com/item/100234567' -b 'session=s'",
                "100234567",
                "the request is a GET: it fetches a page and places no order",
            ),
            (FIREFOX, "999", "--sku-id 999 appears nowhere in the request's URL, headers or body"),
            (
                FIREFOX.replace("-H 'Cookie: session=abc123def456; device_id=xyz-789' ", ""),
                "100234567",
                "no cookie in the request: add cookie_file",
            ),
        ],
    )
    def test_warnings(self, command: str, sku_id: str, warning: str) -> None:
        """A GET; an item id that is not in the request; no cookie."""
        made = to_task(parse_curl(command), sku_id=sku_id, target_time=None, cookie_file=None)
        assert any(w.startswith(warning) for w in made.warnings), made.warnings

    def test_the_sku_is_replaced_only_where_it_stands_alone(self) -> None:
        """--sku-id 1 marks the 1s that stand alone, not those inside A100234567 or 11."""
        made = to_task(
            parse_curl(
                _store_curl(
                    '{"sku":"1","id":"A100234567","n":11}', "https://shop.example.com/buy?sku=1"
                )
            ),
            sku_id="1",
            target_time=None,
            cookie_file=None,
        )
        request = made.task["request"]
        assert isinstance(request, dict)
        assert request["url"] == "https://shop.example.com/buy?sku={sku_id}"
        assert request["body"] == '{"sku":"{sku_id}","id":"A100234567","n":11}'


URL = "http://127.0.0.1:8000/p"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (f"curl {URL} -F a=1", "option -F is not supported: multipart forms are not replayed"),
        (f"curl {URL} --form a=1", "option --form is not supported: multipart forms"),
        (f"curl {URL} -T f", "option -T is not supported: uploads are not replayed"),
        (f"curl {URL} --proxy http://p", "option --proxy is not supported"),
        (f"curl {URL} --data=x", "option --data is not supported"),
        (f"curl {URL} -sZ", "option -Z is not supported"),
        (f"curl {URL} -d", "-d needs a value"),
        (f"curl {URL} --header", "--header needs a value"),
        (f"curl {URL} -d @-", "-d @-: reads stdin"),
        (f"curl {URL} -d @missing.txt", "-d @missing.txt: cannot read missing.txt"),
        (f"curl {URL} -b cookies.txt", "-b cookies.txt: cannot read cookies.txt"),
        (f"curl {URL} -u someone", "-u needs user:password"),
        (f"curl {URL} {URL}", "2 URLs: curl would send a request to each"),
        (f"curl {URL} -I -d a", "-I \\(HEAD\\) and data together"),
        (f"curl {URL} -G -d a --url-query b", "-G and --url-query together"),
        ("curl 'http://x/{a,b}'", "curl would expand them \\(its URL globbing\\); add -g"),
        ("curl 'http://x/?a[0]=1'", "the URL holds \\{ \\} or \\[ \\]"),
        ("curl 'http://x/a b'", "the URL holds a space"),
        ("curl 'http://x/é'", "non-ASCII character: percent-encode it"),
        ("curl ftp://x/f", "no http\\(s\\) URL"),
        ("curl http://x:port/f", "the URL's host or port cannot be read"),
        ("curl 'http://[::1/f'", "the URL's host or port cannot be read"),
        (f"curl {URL} --data-binary $'\\xff'", "the body is not UTF-8 text"),
        (f"curl {URL} -H $'X: \\u5c3d'", "the header X: its value is not printable ASCII"),
        (f"curl {URL} -H 'x: 1' -H 'X: 2'", "-H X is given twice: curl sends both"),
        (f"curl {URL} -H 'Cookie: a=1' -H 'cookie: b=2'", "-H Cookie is given twice"),
        (f"curl {URL} -H @headers.txt", "-H @FILE \\(headers from a file\\)"),
        (f"curl {URL} -H 'Bad Name: 1'", "-H: 'Bad Name' is not a header name"),
        (f"curl {URL} -H 'X-S; a: b'", "-H: 'X-S; a' is not a header name"),
    ],
)
def test_what_cannot_be_replayed_is_refused(command: str, message: str) -> None:
    """An option that would change what is sent and is not replayed, or a request a task
    cannot hold: one line naming the option or the part."""
    machine = Machine(read_file=_no_files)
    with pytest.raises(ConfigError, match=message):
        parse_curl(command, machine)


def _no_files(name: str) -> bytes:
    raise FileNotFoundError(2, "No such file or directory", name)


@pytest.mark.parametrize(
    ("command", "method", "url", "headers", "cookie", "body"),
    [
        (f"curl {URL}", "GET", URL, {"User-Agent": "curl/9", "Accept": "*/*"}, None, None),
        (f"curl -I {URL}", "HEAD", URL, {"User-Agent": "curl/9", "Accept": "*/*"}, None, None),
        (
            f"curl {URL} -XPUT -HX-A:1 -dfoo -bk=v -uu:p -Aagent -eref",
            "PUT",
            URL,
            {
                "Authorization": "Basic dTpw",
                "User-Agent": "agent",
                "Accept": "*/*",
                "Referer": "ref",
                "X-A": "1",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            "k=v",
            "foo",
        ),
        (
            f"curl {URL} --json '{{}}' -H 'Accept;' -H 'User-Agent:' -H 'Host: h'",
            "POST",
            URL,
            {"Accept": "", "Content-Type": "application/json"},
            None,
            "{}",
        ),
        (
            "curl 'http://127.0.0.1:8000/a/./b/../c?x=1#f' -G -d y=2 -H 'Cookie: c=1' -b d=2",
            "GET",
            "http://127.0.0.1:8000/a/c?x=1&y=2",
            {"User-Agent": "curl/9", "Accept": "*/*"},
            "c=1",
            None,
        ),
        (
            "curl http://u:p@127.0.0.1/p --url-query 'a=b c' --url-query '+d=e+f' -b 'x=1' -b y=2",
            "GET",
            "http://127.0.0.1/p?a=b+c&d=e+f",
            {"Authorization": "Basic dTpw", "User-Agent": "curl/9", "Accept": "*/*"},
            "x=1;y=2",
            None,
        ),
    ],
)
def test_curls_own_rules(
    command: str,
    method: str,
    url: str,
    headers: dict[str, str],
    cookie: str | None,
    body: str | None,
) -> None:
    """Method, URL, curl's own headers in its order, the cookie, the body (the real curl's
    bytes are compared in test_curl_oracle; here the cases it cannot run: HEAD, Host)."""
    req = parse_curl(command, Machine(user_agent="curl/9"))
    assert (req.method, req.url, list(req.headers.items()), req.cookie, req.body) == (
        method,
        url,
        list(headers.items()),
        cookie,
        body,
    )


def test_a_host_header_is_said_to_be_dropped() -> None:
    """-H Host: the sniper sends the URL's host: a warning says so."""
    req = parse_curl(f"curl {URL} -H 'Host: other'")
    assert "Host" not in req.headers
    assert req.warnings == ["-H Host is not replayed: the sniper sends the URL's host"]


def test_a_header_without_colon_or_semicolon_is_said_to_send_nothing() -> None:
    """curl sends nothing for -H 'X-N' (nor for a token typed without its colon): the import
    says so, showing only the name-like start."""
    req = parse_curl(f"curl {URL} -H 'X-N' -H 'Authorization Bearer secret-token'")
    assert list(req.headers) == ["User-Agent", "Accept"]
    assert req.warnings == [
        "-H X-N…: neither 'Name: value' nor 'Name;', so curl sends nothing for it",
        "-H Authorization…: neither 'Name: value' nor 'Name;', so curl sends nothing for it",
    ]
