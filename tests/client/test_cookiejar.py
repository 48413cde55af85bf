"""One task's cookie jar: tables of what a browser would send back."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from sniper.client.cookiejar import MAX_COOKIE_BYTES, MAX_COOKIES, CookieJar
from sniper.clock import ManualClock

NOW = 2_000_000_000.0  # far from the system's clock: expiry by the jar's `now` alone shows
SHOP = "http://www.example.com/"
LOOPBACK = "http://127.0.0.1:8471/api/cart"


def http_date(t: float) -> str:
    return formatdate(t, usegmt=True)


def jar_after(
    from_url: str, *set_cookies: str, seed: str = "", clock: ManualClock | None = None
) -> CookieJar:
    """A jar that sent a request to ``from_url`` and was answered ``set_cookies``."""
    jar = CookieJar(seed, now=(clock or ManualClock(NOW)).time)
    jar.update(from_url, [("set-cookie", line) for line in set_cookies])
    return jar


@pytest.mark.parametrize(
    ("from_url", "set_cookie", "to_url", "sent"),
    [
        # Host-only: back to that very host, on any port, never to a parent or child.
        ("http://shop.example.com/", "a=1", "http://shop.example.com/x", True),
        ("http://shop.example.com/", "a=1", "http://shop.example.com:8080/", True),
        ("http://shop.example.com/", "a=1", "http://example.com/", False),
        ("http://shop.example.com/", "a=1", "http://m.shop.example.com/", False),
        ("http://SHOP.example.com/", "a=1", "http://shop.EXAMPLE.com/", True),
        # Domain cookies: to the domain and every host under it, with or without the dot.
        ("http://www.example.com/", "a=1; Domain=.example.com", "http://m.example.com/", True),
        ("http://www.example.com/", "a=1; Domain=example.com", "http://m.example.com/", True),
        ("http://www.example.com/", "a=1; Domain=example.com", "http://example.com/", True),
        ("http://www.example.com/", "a=1; Domain=EXAMPLE.COM", "http://a.b.example.com/", True),
        ("http://example.com/", "a=1; Domain=example.com", "http://www.example.com/", True),
        ("http://www.example.com/", "a=1; Domain=example.com", "http://badexample.com/", False),
        ("http://www.example.com/", "a=1; Domain=example.com", "http://example.org/", False),
        # A Domain that is not the host or a parent of it on a dot is refused.
        ("http://www.example.com/", "a=1; Domain=other.com", "http://other.com/", False),
        ("http://www.example.com/", "a=1; Domain=other.com", "http://www.example.com/", False),
        ("http://www.example.com/", "a=1; Domain=ample.com", "http://www.example.com/", False),
        ("http://www.example.com/", "a=1; Domain=m.example.com", "http://m.example.com/", False),
        ("http://www.example.com/", "a=1; Domain=com", "http://www.example.com/", False),
        ("http://shop.com.cn/", "a=1; Domain=com.cn", "http://shop.com.cn/", False),
        ("http://shop.co.uk/", "a=1; Domain=.co.uk", "http://other.co.uk/", False),
        # Loopback, where the tests' shops run.
        (LOOPBACK, "a=1", "http://127.0.0.1:8471/api/order", True),
        (LOOPBACK, "a=1", "http://127.0.0.1:9999/api/order", True),
        (LOOPBACK, "a=1", "http://localhost:8471/api/order", False),
        (LOOPBACK, "a=1; Domain=127.0.0.1", "http://127.0.0.1:8471/api/x", True),
        (LOOPBACK, "a=1; Domain=0.0.1", "http://127.0.0.1:8471/api/x", False),
        (LOOPBACK, "a=1; Domain=0.0.1", "http://10.0.0.1/api/x", False),
        ("http://localhost:8471/", "a=1", "http://localhost:8471/x", True),
        ("http://localhost:8471/", "a=1", "http://127.0.0.1:8471/x", False),
        ("http://localhost:8471/", "a=1; Domain=localhost", "http://localhost:9/", True),
        # An empty Domain is ignored (RFC 6265 5.2.3): a host-only cookie.
        ("http://www.example.com/", "a=1; Domain=", "http://www.example.com/", True),
        ("http://www.example.com/", "a=1; Domain=", "http://m.example.com/", False),
    ],
)
def test_domain(from_url: str, set_cookie: str, to_url: str, sent: bool) -> None:
    """Host-only and domain cookies go where a browser would send them, and nowhere else."""
    assert jar_after(from_url, set_cookie).header(to_url) == ("a=1" if sent else "")


@pytest.mark.parametrize(
    ("from_url", "set_cookie", "to_url", "sent"),
    [
        # The default path: the request's, up to its last "/" (RFC 6265 5.1.4).
        ("http://h.com/api/cart", "a=1", "http://h.com/api", True),
        ("http://h.com/api/cart", "a=1", "http://h.com/api/order", True),
        ("http://h.com/api/cart", "a=1", "http://h.com/apix", False),
        ("http://h.com/api/cart", "a=1", "http://h.com/", False),
        ("http://h.com/api/cart?next=/a/b/c", "a=1", "http://h.com/api/x", True),
        ("http://h.com/api/v1/", "a=1", "http://h.com/api/v1/x", True),
        ("http://h.com/api/v1/", "a=1", "http://h.com/api/v2", False),
        ("http://h.com/cart", "a=1", "http://h.com/anything/else", True),
        ("http://h.com", "a=1", "http://h.com/x", True),
        # A Path given: itself and below it on a "/", never a longer name.
        ("http://h.com/", "a=1; Path=/api", "http://h.com/api", True),
        ("http://h.com/", "a=1; Path=/api", "http://h.com/api/x", True),
        ("http://h.com/", "a=1; Path=/api", "http://h.com/api/x?q=1", True),
        ("http://h.com/", "a=1; Path=/api", "http://h.com/apix", False),
        ("http://h.com/", "a=1; Path=/api", "http://h.com/", False),
        ("http://h.com/", "a=1; Path=/api/", "http://h.com/api/x", True),
        ("http://h.com/", "a=1; Path=/api/", "http://h.com/api", False),
        ("http://h.com/x/y", "a=1; Path=/", "http://h.com/z", True),
        # A Path not starting with "/" is ignored: the default path applies.
        ("http://h.com/api/cart", "a=1; Path=api", "http://h.com/api/x", True),
        ("http://h.com/api/cart", "a=1; Path=api", "http://h.com/", False),
    ],
)
def test_path(from_url: str, set_cookie: str, to_url: str, sent: bool) -> None:
    """Path matching as RFC 6265 5.1.4 has it."""
    assert jar_after(from_url, set_cookie).header(to_url) == ("a=1" if sent else "")


@pytest.mark.parametrize(
    ("from_url", "to_url", "sent"),
    [
        ("https://h.com/", "https://h.com/", True),
        ("https://h.com/", "http://h.com/", False),
        ("http://127.0.0.1:8471/", "http://127.0.0.1:8471/", False),
        ("http://127.0.0.1:8471/", "https://127.0.0.1:8471/", True),
    ],
)
def test_secure_cookies_go_over_https_only(from_url: str, to_url: str, sent: bool) -> None:
    """A Secure cookie is never sent over plain http."""
    assert jar_after(from_url, "a=1; Secure").header(to_url) == ("a=1" if sent else "")


@pytest.mark.parametrize(
    ("to_url", "header"),
    [
        ("https://www.example.com/api/y", "p=1; a=1; d=1; s=1"),
        ("http://www.example.com/api/y", "p=1; a=1; d=1"),
        ("http://www.example.com/", "a=1; d=1"),
        ("https://m.example.com/api", "d=1"),
        ("http://example.org/api", ""),
    ],
)
def test_each_cookie_is_judged_on_its_own(to_url: str, header: str) -> None:
    """Cookies of one jar differing in domain, path or Secure each go where they may."""
    jar = jar_after(
        "https://www.example.com/api/x",
        "a=1; Path=/",
        "d=1; Path=/; Domain=example.com",
        "s=1; Path=/; Secure",
        "p=1; Path=/api",
    )
    assert jar.header(to_url) == header


def test_host_only_cookies_of_two_hosts() -> None:
    """Each host gets its own host-only cookies back, not the other's."""
    jar = jar_after("http://www.example.com/", "w=1")
    jar.update("http://m.example.com/", [("set-cookie", "m=1")])
    assert jar.header("http://www.example.com/") == "w=1"
    assert jar.header("http://m.example.com/") == "m=1"


@pytest.mark.parametrize(
    ("set_cookie", "later_s", "sent"),
    [
        ("a=1", 10 * 365 * 86400, True),  # a session cookie lives as long as the task
        ("a=1; Max-Age=10", 9, True),
        ("a=1; Max-Age=10", 10, False),
        ("a=1; Max-Age=10", 11, False),
        ("a=1; Max-Age=0", 0, False),
        ("a=1; Max-Age=-5", 0, False),
        (f"a=1; Expires={http_date(NOW + 60)}", 59, True),
        (f"a=1; Expires={http_date(NOW + 60)}", 61, False),
        (f"a=1; Expires={http_date(NOW - 60)}", 0, False),
        ("a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT", 0, False),
        # Max-Age wins over Expires, before or after it.
        (f"a=1; Expires={http_date(NOW - 60)}; Max-Age=100", 99, True),
        (f"a=1; Max-Age=100; Expires={http_date(NOW - 60)}", 99, True),
        (f"a=1; Max-Age=100; Expires={http_date(NOW + 3600)}", 101, False),
        (f"a=1; Max-Age=0; Expires={http_date(NOW + 3600)}", 0, False),
        # Unreadable Expires or Max-Age are ignored (RFC 6265 5.2.1, 5.2.2): a session cookie.
        ("a=1; Expires=someday", 86400, True),
        ("a=1; Max-Age=soon", 86400, True),
        ("a=1; Max-Age=", 86400, True),
    ],
)
def test_expiry_by_the_jars_clock(set_cookie: str, later_s: float, sent: bool) -> None:
    """Expiry follows the clock the jar was given, never the system's."""
    clock = ManualClock(NOW)
    jar = jar_after(SHOP, set_cookie, clock=clock)
    clock.advance(later_s)
    assert jar.header(SHOP) == ("a=1" if sent else "")


def test_a_header_made_before_an_expiry_is_not_sent_after_it() -> None:
    """The jar keeps a URL's Cookie header ready, but never past a cookie's expiry."""
    clock = ManualClock(NOW)
    jar = jar_after(SHOP, "a=1; Max-Age=100", "b=2", clock=clock)
    assert jar.header(SHOP) == "a=1; b=2"
    clock.advance(99)
    assert jar.header(SHOP) == "a=1; b=2"
    clock.advance(2)
    assert jar.header(SHOP) == "b=2"


def test_a_header_made_before_a_set_cookie_is_made_again() -> None:
    jar = jar_after(SHOP, "a=1")
    assert jar.header(SHOP) == "a=1"
    jar.update(SHOP, [("set-cookie", "a=2")])
    assert jar.header(SHOP) == "a=2"


@pytest.mark.parametrize(
    "deleting",
    [
        "a=; Max-Age=0",
        "a=gone; Max-Age=-1",
        f"a=; Expires={http_date(NOW - 1)}",
        "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
    ],
)
def test_an_expired_set_cookie_deletes(deleting: str) -> None:
    """An expired Set-Cookie deletes the stored cookie and the task's own pair of that name."""
    jar = jar_after(SHOP, "a=1; Path=/", "b=2; Path=/")
    jar.update(SHOP, [("set-cookie", deleting)])
    assert jar.header(SHOP) == "b=2"
    seeded = jar_after(SHOP, seed="a=mine; c=3")
    seeded.update(SHOP, [("set-cookie", deleting)])
    assert seeded.header(SHOP) == "c=3"
    assert seeded.names() == ["c"]


def test_an_expired_set_cookie_for_a_foreign_domain_deletes_nothing() -> None:
    """A deletion is judged like a cookie: a Domain the host is not under is refused."""
    jar = jar_after("http://www.example.com/", "a=1; Domain=example.com; Path=/", seed="a0=s")
    jar.update("http://evil.org/", [("set-cookie", "a=; Domain=example.com; Path=/; Max-Age=0")])
    jar.update("http://evil.org/", [("set-cookie", "a0=; Domain=example.com; Max-Age=0")])
    assert jar.header("http://www.example.com/") == "a0=s; a=1"


@pytest.mark.parametrize(
    ("seed", "header", "names"),
    [
        ("", "", []),
        ("a=1; b=2", "a=1; b=2", ["a", "b"]),
        # Sent as given, but for the ends: a captured request's own bytes (curl: "a=1;b=2").
        ("  a=1 ;b=2  ", "a=1 ;b=2", ["a", "b"]),
        ("a=1;b=2", "a=1;b=2", ["a", "b"]),
        ("a=1;; ; b=2;", "a=1;; ; b=2", ["a", "b"]),
        ("z=1; a=2; m=3", "z=1; a=2; m=3", ["z", "a", "m"]),  # the seed's order kept
        ("session; a=1", "session; a=1", ["a"]),  # curl sends a bare piece as it is
        ("a=1; =x", "a=1; =x", ["a"]),
        ("a=x=y==", "a=x=y==", ["a"]),
        ("a=", "a=", ["a"]),
        ('q="x y"', 'q="x y"', ["q"]),
        ("a = 1", "a = 1", ["a"]),
    ],
)
def test_seed(seed: str, header: str, names: list[str]) -> None:
    """The task's own cookie is sent back piece by piece as given, to every URL."""
    jar = CookieJar(seed, now=ManualClock(NOW).time)
    for url in (SHOP, "https://other.org/deep/path?x=1", LOOPBACK):
        assert jar.header(url) == header
    assert jar.names() == names


@pytest.mark.parametrize(
    ("seed", "name", "value"),
    [
        ("a=1; b=2", "b", "2"),
        ("a=x=y", "a", "x=y"),
        ("a = 1", "a", "1"),
        ("a=", "a", ""),
        ('q="x y"', "q", '"x y"'),
        ("session; a=1", "session", None),
        ("a=1", "b", None),
    ],
)
def test_seed_value(seed: str, name: str, value: str | None) -> None:
    """``value`` gives a seed pair's value; a bare piece has no name."""
    assert CookieJar(seed, now=ManualClock(NOW).time).value(name, SHOP) == value


def test_a_set_cookie_replaces_the_seed_pair_of_its_name() -> None:
    """The shop's cookie takes the place of the task's own pair, which is then kept by the
    shop's rules (here host-only) rather than sent everywhere."""
    jar = jar_after(SHOP, "sid=new; Path=/", seed="sid=old; lang=zh")
    assert jar.header(SHOP) == "lang=zh; sid=new"
    assert jar.header("http://other.org/") == "lang=zh"
    assert jar.value("sid", SHOP) == "new"
    assert jar.value("sid", "http://other.org/") is None
    assert jar.names() == ["lang", "sid"]


def test_a_cookie_that_is_not_ascii_is_ignored() -> None:
    """It could not go back in a Cookie header (RFC 6265's cookie octets are ASCII)."""
    jar = jar_after(SHOP, "city=北京; Path=/", "ok=1")
    assert jar.header(SHOP) == "ok=1"


def test_a_cookie_of_another_name_leaves_the_seed_as_given() -> None:
    """The seed keeps its own bytes (curl's ``a=1;b=2``) until a pair of it is replaced."""
    jar = jar_after(SHOP, "csrf=c1; Path=/", seed="a=1;b=2")
    assert jar.header(SHOP) == "a=1;b=2; csrf=c1"


def test_a_refused_set_cookie_leaves_the_seed_pair() -> None:
    """Only a Set-Cookie the jar keeps replaces a seed pair."""
    jar = jar_after(
        SHOP,
        "sid=new; Domain=other.org",
        "lang=x" + "y" * MAX_COOKIE_BYTES,
        seed="sid=old; lang=zh",
    )
    assert jar.header(SHOP) == "sid=old; lang=zh"


def test_several_set_cookies_in_one_answer() -> None:
    """Every Set-Cookie of an answer is taken, in order (the last of a name wins); other
    headers are not read."""
    jar = CookieJar("", now=ManualClock(NOW).time)
    jar.update(
        SHOP,
        [
            ("set-cookie", "a=1"),
            ("content-type", "text/html"),
            ("set-cookie", "b=2"),
            ("x-set-cookie", "c=3"),
            ("set-cookie", "a=3"),
        ],
    )
    assert jar.header(SHOP) == "a=3; b=2"


def test_answers_accumulate() -> None:
    """Cookies of earlier answers stay beside later ones."""
    jar = jar_after(SHOP, "a=1")
    jar.update(SHOP, [("set-cookie", "b=2")])
    jar.update(SHOP, [])
    assert jar.header(SHOP) == "a=1; b=2"


@pytest.mark.parametrize(
    "line",
    [
        "",
        ";",
        "novalue",
        "=1",
        " =1; Path=/",
        "; a=1",
        "a=1\x01",
        "a=1; Path=/\x7f",
        "a=1;\x00 Secure",
        "a=" + "x" * (2 * MAX_COOKIE_BYTES),
        "a=" + "x" * MAX_COOKIE_BYTES,  # name and value: 4097 bytes
        "a=" + "é" * (MAX_COOKIE_BYTES // 2),  # 4 KiB of UTF-8 in 2 Ki characters
    ],
)
def test_a_malformed_or_oversized_set_cookie_is_ignored(line: str) -> None:
    """A Set-Cookie a browser would refuse is ignored without an exception."""
    jar = jar_after(SHOP, line, "ok=1", seed="s=1")
    assert jar.header(SHOP) == "s=1; ok=1"


def test_the_largest_cookie_is_kept() -> None:
    """A name and value of exactly 4096 bytes are kept."""
    line = "a=" + "x" * (MAX_COOKIE_BYTES - 2)
    assert jar_after(SHOP, line).header(SHOP) == line


@pytest.mark.parametrize(
    ("set_cookie", "header", "value"),
    [
        ('q="x y"', 'q="x y"', '"x y"'),
        ('q=""', 'q=""', '""'),
        ("q=", "q=", ""),
        ("q=a=b", "q=a=b", "a=b"),
        ("q=1; HttpOnly", "q=1", "1"),
        ("q=1; SameSite=Strict; HttpOnly; Priority=High", "q=1", "1"),
        ("q=1; samesite=none; httponly; secure", "", None),  # secure: not over http
        ("q=1; Version=1", "q=1", "1"),
        ("q=1; Port=1234", "q=1", "1"),  # RFC 2965's Port: browsers never knew it
    ],
)
def test_values_and_attributes(set_cookie: str, header: str, value: str | None) -> None:
    """Values go back as they came (quotes included); HttpOnly and SameSite change nothing."""
    jar = jar_after(SHOP, set_cookie)
    assert jar.header(SHOP) == header
    assert jar.value("q", SHOP) == value


def test_longer_paths_first_then_the_earlier_created() -> None:
    """RFC 6265 5.4 ordering; a replaced cookie keeps its place."""
    jar = jar_after(
        "http://h.com/",
        "b=1; Path=/",
        "a=1; Path=/",
        "deep=1; Path=/api/v1",
        "mid=1; Path=/api",
        "b=2; Path=/",
    )
    assert jar.header("http://h.com/api/v1/x") == "deep=1; mid=1; b=2; a=1"
    assert jar.header("http://h.com/api/v2") == "mid=1; b=2; a=1"
    assert jar.value("b", "http://h.com/") == "2"


def test_creation_order_holds_across_domains() -> None:
    """Host-only and domain cookies of one path length interleave by when they were set."""
    jar = jar_after(
        "http://www.example.com/", "d1=1; Domain=example.com", "h=1", "d2=1; Domain=example.com"
    )
    assert jar.header("http://www.example.com/") == "d1=1; h=1; d2=1"
    jar.update("http://www.example.com/", [("set-cookie", "d1=; Max-Age=0; Domain=example.com")])
    jar.update("http://www.example.com/", [("set-cookie", "d1=2; Domain=example.com")])
    assert jar.header("http://www.example.com/") == "h=1; d2=1; d1=2"


def test_value_is_what_the_header_would_send() -> None:
    """Of two cookies of one name, the one the URL's header sends first."""
    jar = jar_after("http://h.com/", "t=root; Path=/", "t=api; Path=/api")
    assert jar.value("t", "http://h.com/api/x") == "api"
    assert jar.value("t", "http://h.com/other") == "root"
    assert jar.value("t", "http://elsewhere.com/") is None


def test_the_number_of_cookies_is_capped() -> None:
    """A shop cannot grow the jar without end: new names past the cap are refused, while the
    cookies held can still be replaced, and room freed by expiry is used again."""
    clock = ManualClock(NOW)
    flood = [f"c{i}=v; Max-Age={60 if i < 10 else 3600}" for i in range(MAX_COOKIES + 50)]
    jar = jar_after(SHOP, "csrf=1", *flood, clock=clock)
    names = jar.names()
    assert len(names) == MAX_COOKIES
    assert names[:2] == ["csrf", "c0"]
    jar.update(SHOP, [("set-cookie", "csrf=2"), ("set-cookie", "late=1")])
    assert jar.value("csrf", SHOP) == "2"
    assert jar.value("late", SHOP) is None
    clock.advance(61)
    jar.update(SHOP, [("set-cookie", "late=1")])
    assert jar.value("late", SHOP) == "1"
    assert len(jar.names()) == MAX_COOKIES - 10 + 1


def test_nothing_shows_a_value() -> None:
    """repr and str of the jar name no cookie value, nor do its errors a URL (it may hold a
    token)."""
    jar = jar_after(SHOP, "csrf=SETCOOKIESECRET", seed="sid=SEEDSECRET; BARESECRET")
    for text in (repr(jar), str(jar), ", ".join(jar.names())):
        assert "SECRET" not in text
    assert jar.names() == ["sid", "csrf"]
    assert sorted(jar.values()) == ["BARESECRET", "SEEDSECRET", "SETCOOKIESECRET"]
    for bad_url in ("/api/x?token=URLSECRET", "ftp://h/URLSECRET", "http://[::1/URLSECRET"):
        with pytest.raises(ValueError, match="not an absolute http") as caught:
            jar.header(bad_url)
        assert "SECRET" not in str(caught.value)
        with pytest.raises(ValueError, match="not an absolute http"):
            jar.update(bad_url, [("set-cookie", "a=1")])
