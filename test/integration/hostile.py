"""Hostile data sets for the integration tier: tables as a careless or malicious source
would fill them, built in a test's own database (conftest's Env) with the three tables of
the design (pinterest_data keyed on `index`, geolocation_data and user_data keyed on
`ind`), plus an independent reading of the rows to compare messages with.

Each builder drops and recreates the three tables, fills them, and returns what a test
needs to know about the data (the keys, the texts). None of them runs pinpostd."""

import codecs
import datetime

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1
UINT64_MAX = 2 ** 64 - 1

TABLES = {"pin": "pinterest_data", "geo": "geolocation_data", "user": "user_data"}
KEYS = {"pin": "index", "geo": "ind", "user": "ind"}

# Columns in table order: (name, "key" | "text" | SQL type of a fixed value, fixed value).
COLUMNS = {
    "pin": [("index", "key", None), ("unique_id", "text", None), ("title", "text", None),
            ("description", "text", None), ("poster_name", "text", None),
            ("follower_count", "text", None), ("tag_list", "text", None),
            ("is_image_or_video", "text", None), ("image_src", "text", None),
            ("downloaded", "INT", 1), ("save_location", "text", None),
            ("category", "text", None)],
    "geo": [("ind", "key", None), ("timestamp", "DATETIME", datetime.datetime(2020, 8, 28, 3, 52, 47)),
            ("latitude", "FLOAT", -89.9787), ("longitude", "FLOAT", -173.293),
            ("country", "text", None)],
    "user": [("ind", "key", None), ("first_name", "text", None), ("last_name", "text", None),
             ("age", "INT", 20), ("date_joined", "DATETIME", datetime.datetime(2015, 10, 24, 11, 23, 51))],
}
TEXT_COLUMNS = {t: [c for c, kind, _ in cols if kind == "text"] for t, cols in COLUMNS.items()}

# Text a source can hold that a careless serialiser or terminal mangles. Every one is
# valid UTF-8, so it fits a utf8mb4 TEXT column as well as a BLOB.
HOSTILE_TEXTS = [
    b"",
    b"\x00",
    b"a\x00b\x00\x00c",
    bytes(range(0x00, 0x20)) + b"\x7f",                      # every C0 control and DEL
    b"\x1b[31mred\x1b[0m \x1b[2J\x1b[H\x1bc",                # colour, clear screen, reset
    b"\x1b]0;owned\x07\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\",  # OSC title and hyperlink
    b"line1\r\nline2\rline3\n\n",
    b"\r",
    b'"quoted" \\backslash\\ \\u0000 \\" </script> {"a": 1}',
    "\u009b31mC1 CSI\u0085NEL\u0080".encode(),               # C1 controls as UTF-8
    "\u2028\u2029\ufeff\u202e\u200b".encode(),               # JS line breaks, BOM, RTL, ZWSP
    "\U0001F384 \u65e5\u672c \u00e9\u0301 \uffff \U0010FFFF".encode(),  # non-BMP, combining
    b"NULL",
    b"null",
    b" ",
]
# Bytes that are not UTF-8: only a binary column (BLOB, VARBINARY) holds them.
INVALID_UTF8 = [
    b"A\xff\xfeB",            # bytes never valid
    b"\xc0\xaf",              # overlong '/'
    b"\xed\xa0\x80",          # UTF-16 surrogate
    b"\xf4\x90\x80\x80",      # above U+10FFFF
    b"x\xe6\x97",             # truncated at the end
    b"\xf0\x9f\x8e y",        # truncated emoji before more text
    b"\x80\x80",              # lone continuation bytes
    b"\x1b[31m\xff\x00\r",    # mixed with controls
]


def _per_byte_fffd(err):
    # The message contract replaces each invalid byte, not each maximal subpart.
    return "\ufffd" * (err.end - err.start), err.end


codecs.register_error("pp-fffd-per-byte", _per_byte_fffd)


def expected_text(value):
    """What the JSON string of a column value must decode to: the text itself, with each
    byte that is not part of valid UTF-8 replaced by U+FFFD."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="pp-fffd-per-byte")
    return value


def create_tables(env, key_type="INT", text_type="TEXT", primary=True):
    """Drop and create the three tables: the key column of key_type (e.g. BIGINT,
    BIGINT UNSIGNED), every text column of text_type (e.g. LONGTEXT, LONGBLOB)."""
    charset = "" if "BLOB" in text_type.upper() or "BINARY" in text_type.upper() \
        else " CHARACTER SET utf8mb4"
    with env.db.root(env.database) as c, c.cursor() as cur:
        for table, name in TABLES.items():
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            cols = []
            for col, kind, _ in COLUMNS[table]:
                if kind == "key":
                    cols.append(f"`{col}` {key_type} NOT NULL" + (" PRIMARY KEY" if primary else ""))
                elif kind == "text":
                    cols.append(f"`{col}` {text_type}{charset}")
                else:
                    cols.append(f"`{col}` {kind}")
            cur.execute(f"CREATE TABLE {name} ({', '.join(cols)}) ENGINE=InnoDB "
                        "DEFAULT CHARSET=utf8mb4")


def insert_rows(env, table, keys, text_of=lambda key, column: f"{column} {key}"):
    """Insert one row per key into table ("pin", "geo" or "user"); text columns hold
    text_of(key, column) (str or bytes), the other columns fixed ordinary values."""
    names = [c for c, _, _ in COLUMNS[table]]
    sql = (f"INSERT INTO {TABLES[table]} ({', '.join(f'`{n}`' for n in names)}) "
           f"VALUES ({', '.join(['%s'] * len(names))})")
    rows = []
    for key in keys:
        row = []
        for col, kind, fixed in COLUMNS[table]:
            row.append(key if kind == "key" else text_of(key, col) if kind == "text" else fixed)
        rows.append(row)
    with env.db.root(env.database) as c, c.cursor() as cur:
        for i in range(0, len(rows), 500):
            cur.executemany(sql, rows[i:i + 500])


# ---- the data sets ----

def all_orphaned(env, posts=200, lacking="user"):
    """Posts 1..posts in every table except `lacking`, which is left empty: no post can
    ever be whole. Returns the name of the table that lacks the rows."""
    create_tables(env)
    for table in TABLES:
        if table != lacking:
            insert_rows(env, table, range(1, posts + 1))
    return TABLES[lacking]


def mostly_orphaned(env, posts=10000, every=1000):
    """Posts 1..posts, of which only every `every`-th has its geo and user rows (99.9%
    orphaned by default). Returns the sorted list of the whole posts' keys."""
    create_tables(env)
    whole = list(range(every, posts + 1, every))
    insert_rows(env, "pin", range(1, posts + 1))
    insert_rows(env, "geo", whole)
    insert_rows(env, "user", whole)
    return whole


def single_row(env, key=42):
    """One post, one row in each table. Returns its key."""
    create_tables(env)
    for table in TABLES:
        insert_rows(env, table, [key])
    return key


def edge_keys(env, keys=(INT64_MIN, -1, 0, INT64_MAX), key_type="BIGINT"):
    """Posts whose keys sit at the ends of the key column's range. Returns the keys."""
    create_tables(env, key_type=key_type)
    for table in TABLES:
        insert_rows(env, table, keys)
    return list(keys)


def hostile_texts(env, text_type="LONGTEXT", texts=None):
    """One post per hostile text (HOSTILE_TEXTS, plus INVALID_UTF8 when text_type is
    binary), that text in every text column of its three rows. Keys start at 1.
    Returns {key: text}."""
    if texts is None:
        binary = "BLOB" in text_type.upper() or "BINARY" in text_type.upper()
        texts = HOSTILE_TEXTS + (INVALID_UTF8 if binary else [])
    create_tables(env, text_type=text_type)
    by_key = {i + 1: t for i, t in enumerate(texts)}
    for table in TABLES:
        insert_rows(env, table, by_key,
                    lambda key, col: by_key[key] if "BLOB" in text_type.upper()
                    else by_key[key].decode())
    return by_key


def big_texts(env, size=10 * 1024 * 1024, key=7, columns=None):
    """One post whose rows hold `size` bytes of text (control bytes, escapes and
    multi-byte UTF-8 included) in one text column per table (columns: {table: [column]},
    default pin.description, geo.country, user.last_name), the other text columns a few
    control bytes. Written server-side with REPEAT, one column per statement, so no
    packet exceeds the server's max_allowed_packet. Returns the key."""
    columns = columns or {"pin": ["description"], "geo": ["country"], "user": ["last_name"]}
    create_tables(env, text_type="LONGBLOB")
    for table in TABLES:
        insert_rows(env, table, [key], lambda k, col: b"\x1b[0m\x00\r")
    unit = "\u00e9\u65e5 \U0001F384 big text\x1b\r\n".encode()
    with env.db.root(env.database) as c, c.cursor() as cur:
        for table, cols in columns.items():
            for col in cols:
                # Hex literals are binary strings: the tail may cut a character in two.
                cur.execute(f"UPDATE {TABLES[table]} SET `{col}` = CONCAT(REPEAT("
                            f"X'{unit.hex()}', %s), X'{unit[:size % len(unit)].hex()}') "
                            f"WHERE `{KEYS[table]}` = %s", (size // len(unit), key))
                cur.execute(f"SELECT LENGTH(`{col}`) FROM {TABLES[table]}")
                assert cur.fetchone()[0] == size, f"{table}.{col} not {size} bytes"
    return key


# ---- reading rows independently of pinpostd ----

def read_rows(env, keys):
    """The rows of these keys as the server holds them: {table: {key: (column names in
    table order, values)}}, FLOAT columns as their exact DOUBLE value, text as the JSON
    must render it (expected_text)."""
    out = {}
    with env.db.root(env.database) as c, c.cursor() as cur:
        for table, name in TABLES.items():
            cols = ", ".join(f"CAST(`{col}` AS DOUBLE) AS `{col}`" if kind == "FLOAT" else f"`{col}`"
                             for col, kind, _ in COLUMNS[table])
            out[table] = {}
            for key in sorted(set(keys)):
                cur.execute(f"SELECT {cols} FROM {name} WHERE `{KEYS[table]}` = %s", (key,))
                names = [d[0] for d in cur.description]
                for r in cur.fetchall():
                    out[table][r[0]] = (names, tuple(expected_text(v) for v in r))
    return out
