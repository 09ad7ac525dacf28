"""Session tables are written only by ``rig.session.store`` (and created by the migrations).

The scan reads every module's AST: SQL text (string constants, f-strings, implicitly
joined literals) that inserts into, updates or deletes from a session table, and
sqlite-utils writes (``db["items"].insert(…)``, ``db.table("captures").upsert(…)``),
and session event rows written through ``log_event(…, session_id=…)``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("sessions", "items", "captures", "registrations")
# rig merge copies finished sessions from other projects as they are (no state changes),
# one transaction per session: the one other writer.
ALLOWED = {ROOT / "rig/session/store.py", ROOT / "rig/store/schema.py",
           ROOT / "rig/merge/sessions.py"}  # fmt: skip
SQL_WRITE = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM)\s+"
    rf"({'|'.join(TABLES)})\b",
    re.IGNORECASE,
)
API_WRITES = {"insert", "insert_all", "upsert", "upsert_all", "update", "delete", "delete_where"}


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    inside_f = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    out = []
    for node in ast.walk(tree):
        if id(node) in inside_f:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            out.append((node.lineno, text))
    return out


def _table_of(node: ast.AST) -> str | None:
    """``db["items"]`` or ``db.table("items")`` -> "items"."""
    key: ast.AST | None = None
    if isinstance(node, ast.Subscript):
        key = node.slice
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "table"
        and node.args
    ):
        key = node.args[0]
    if isinstance(key, ast.Constant) and key.value in TABLES:
        return str(key.value)
    return None


def writes_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = [
        f"{path.name}:{line}: SQL {m.group(0)!r}"
        for line, text in _strings(tree)
        for m in SQL_WRITE.finditer(" ".join(text.split()))
    ]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        table = _table_of(node.func.value)
        if node.func.attr in API_WRITES and table:
            found.append(f"{path.name}:{node.lineno}: {table}.{node.func.attr}()")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "log_event"
            and any(k.arg == "session_id" for k in node.keywords)
        ):
            found.append(f"{path.name}:{node.lineno}: a session event row outside the store")
    return found


def test_only_the_session_store_writes_session_tables() -> None:
    found = [
        w
        for path in sorted((ROOT / "rig").rglob("*.py"))
        if path not in ALLOWED
        for w in writes_in(path)
    ]
    assert not found, "session tables written outside rig.session.store:\n" + "\n".join(found)


def test_the_scan_finds_each_kind_of_write(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f(db, sid, idx):\n"
        "    db.execute('UPDATE items SET state=? WHERE session_id=?', ['x', sid])\n"
        "    db.execute(f'DELETE FROM captures WHERE idx={idx}')\n"
        "    db.execute('INSERT OR REPLACE INTO '\n               'registrations VALUES (1)')\n"
        "    db['sessions'].insert({'id': sid})\n"
        "    db.table('captures').upsert({'id': 1}, pk='id')\n"
        "    log_event(db, 'ItemShown', session_id=sid)\n"
        "    db.execute('SELECT state FROM items')  # reads are fine\n"
        "    db['sources'].insert({'id': 1})  # not a session table\n"
    )
    assert len(writes_in(bad)) == 6, writes_in(bad)
