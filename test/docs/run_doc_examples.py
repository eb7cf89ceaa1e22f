#!/usr/bin/python3
"""run_doc_examples.py — runs every ```sql block of the given Markdown files and prints TAP,
one test per block (README.md and docs/*.md in make test's `docs` suite).

    run_doc_examples.py [--outdir DIR] FILE.md ...
    run_doc_examples.py --self-test FIXTURE_DIR

Each file runs in a fresh database (created, `CREATE EXTENSION mlops`, dropped afterwards) as the
connecting role (the harness connects as the superuser that owns the cluster), through ONE psql
session, so psql variables (`\\gset`), settings and temporary tables carry from block to block, in
document order, as when a reader pastes them.  The connection comes from the libpq environment
(PGHOST, PGPORT, PGUSER; databases are created through PGDATABASE, default postgres).

Conventions:
  <!-- doctest: setup SQL -->    hidden set-up SQL run at that point (may span lines; SQL inside)
  <!-- doctest: skip REASON -->  on the line right before a fence: the block is not run (TAP SKIP)
  <!-- doctest: error -->        on the line right before a fence: the block must fail

A block fails if any of its statements or psql commands reports an error (psql runs without
ON_ERROR_STOP so that the later blocks still run; a transaction the block left aborted is rolled
back), if its last statement is not terminated, or if psql stopped before reaching its end.  A block
marked error fails if nothing in it reports an error.  A failing hidden set-up fails the block it
prepares (the next one that runs).  Every diagnostic names the file and line of the Markdown.

What a file changes outside its database is undone afterwards: roles it created are dropped, and
settings it changed with ALTER SYSTEM are put back (then the configuration is reloaded).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r'^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)')
DIRECTIVE = re.compile(r'^[ \t]*<!--[ \t]*doctest[ \t]*:(?P<rest>.*)$', re.S)
ERROR_LINE = re.compile(r'^psql:(?P<script>.*?):(?P<line>\d+): (?P<level>ERROR|FATAL|PANIC|error|fatal):\s+(?P<msg>.*)$')
OTHER_PSQL_LINE = re.compile(r'^psql:.*?:\d+: (?:NOTICE|WARNING|INFO|DEBUG\d?|LOG):')
MARKER = re.compile(r'^@@doctest:(?P<what>begin|end):(?P<item>-?\d+)@@$')
PSQL_TIMEOUT = 900          # seconds for one file's whole session
STATEMENT_TIMEOUT = '300s'  # no single example may run longer


class ParseError(Exception):
    """ParseError is a malformed doctest directive or fence, with its line."""

    def __init__(self, line, message):
        super().__init__(message)
        self.line = line


class Item:
    """Item is a ```sql block (kind 'sql') or a hidden set-up (kind 'setup'): the Markdown line it
    starts on, its lines as (markdown line, text), and for blocks the directive before its fence."""

    def __init__(self, kind, line, lines, mode='run', reason=''):
        self.kind = kind
        self.line = line
        self.lines = lines
        self.mode = mode        # run, skip or error
        self.reason = reason
        self.errors = []        # (markdown line, message with its DETAIL/HINT)
        self.problems = []      # other reasons the item failed
        self.finished = False   # psql reached the end marker


def parse(text):
    """parse returns the items of a Markdown text in order: sql blocks and hidden set-ups; it raises
    ParseError for a directive it does not know, one that is not followed by a fence, or a fence
    that is never closed."""
    lines = text.split('\n')
    items = []
    pending = None              # (line, mode, reason) of a skip/error directive
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i]
        m = FENCE.match(line)
        if m:
            indent, fence = len(m.group('indent')), m.group('fence')
            lang = m.group('info').lower()
            body = []
            j = i + 1
            while j < len(lines):
                close = re.match(r'^[ \t]*(`{3,}|~{3,})[ \t]*$', lines[j])
                if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence):
                    break
                content = lines[j]
                # strip the fence's indentation (a fence inside a list item)
                k = 0
                while k < indent and k < len(content) and content[k] in ' \t':
                    k += 1
                body.append((j + 1, content[k:]))
                j += 1
            if j >= len(lines):
                raise ParseError(lineno, 'the fence opened here is never closed')
            if lang == 'sql':
                mode, reason = ('run', '') if pending is None else (pending[1], pending[2])
                items.append(Item('sql', lineno, body, mode, reason))
            elif pending is not None:
                raise ParseError(pending[0], 'doctest: %s precedes a block that is not ```sql' % pending[1])
            pending = None
            i = j + 1
            continue
        d = DIRECTIVE.match(line)
        if d:
            if pending is not None:
                raise ParseError(pending[0], 'doctest: %s is not on the line right before a fence' % pending[1])
            rest = d.group('rest')
            # the comment may span lines: collect up to the line holding -->
            j = i
            while '-->' not in rest:
                j += 1
                if j >= len(lines):
                    raise ParseError(lineno, 'the doctest comment opened here is never closed (-->)')
                rest += '\n' + lines[j]
            body, _, after = rest.partition('-->')
            if after.strip():
                raise ParseError(j + 1, 'text after the closing --> of a doctest comment')
            m = re.match(r'\s*([A-Za-z_]+)(.*)$', body, re.S)
            word, arg = (m.group(1), m.group(2)) if m else ('', body)
            if word == 'setup':
                # the SQL follows "setup" on the first line and/or on the next ones
                sql_lines = [(lineno + k, chunk.strip()) for k, chunk in enumerate(arg.split('\n')) if chunk.strip()]
                if not sql_lines:
                    raise ParseError(lineno, 'doctest: setup without SQL')
                items.append(Item('setup', lineno, sql_lines))
            elif word in ('skip', 'error'):
                if word == 'skip' and not arg.strip():
                    raise ParseError(lineno, 'doctest: skip needs a reason')
                if word == 'error' and arg.strip():
                    raise ParseError(lineno, 'doctest: error takes no argument')
                if j != i:
                    raise ParseError(lineno, 'doctest: %s must fit on one line' % word)
                nxt = lines[j + 1] if j + 1 < len(lines) else ''
                if not FENCE.match(nxt):
                    raise ParseError(lineno, 'doctest: %s is not on the line right before a fence' % word)
                pending = (lineno, word, ' '.join(arg.split()))
            else:
                raise ParseError(lineno, 'unknown doctest directive %r (setup, skip or error)' % word)
            i = j + 1
            continue
        i += 1
    if pending is not None:
        raise ParseError(pending[0], 'doctest: %s is not on the line right before a fence' % pending[1])
    return items


def psql(args, db, **kw):
    """psql runs psql without psqlrc against a database and returns the CompletedProcess."""
    return subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def query(db, sql):
    """query runs one SQL text and returns its unaligned, tuples-only output; it raises on error."""
    r = psql(['-At', '-c', sql], db)
    if r.returncode != 0:
        raise RuntimeError('%s: %s' % (sql.split('\n')[0], r.stderr.strip()))
    return r.stdout


def database_name(path):
    """database_name derives a database name from a Markdown file name."""
    return 'doctest_' + re.sub(r'[^a-z0-9]+', '_', os.path.basename(path).lower()).strip('_')


def build_script(items):
    """build_script writes the psql script for a file's items and returns (script lines, map from
    script line to (item index, markdown line)); item -1 is the preamble."""
    out, where = [], {}

    def emit(text, item=-1, mdline=0):
        out.append(text)
        where[len(out)] = (item, mdline)

    emit("\\set VERBOSITY default")
    emit("\\pset pager off")
    emit("\\warn @@doctest:begin:-1@@")
    emit("CREATE EXTENSION mlops;")
    emit("\\warn @@doctest:end:-1@@")
    for n, it in enumerate(items):
        if it.kind == 'sql' and it.mode == 'skip':
            continue
        emit("\\warn @@doctest:begin:%d@@" % n, n, it.line)
        for mdline, text in it.lines:
            emit(text, n, mdline)
        emit("\\warn @@doctest:end:%d@@" % n, n, it.line)
        # a statement left without ; makes this one a syntax error; an aborted transaction makes
        # it fail too, and is rolled back so that the next block starts clean
        emit("SELECT 1 AS doctest_sentinel \\gset", n, -1)
        emit("\\if :ERROR", n, -2)
        emit("ROLLBACK;", n, -2)
        emit("\\endif", n, -2)
    return out, where


def run_file(path, items, outdir, maintenance_db):
    """run_file runs a file's items in a fresh database and records errors on the items; it returns
    a message if the file could not run at all."""
    db = database_name(path)
    roles_before = set(query(maintenance_db, 'SELECT rolname FROM pg_catalog.pg_roles').split('\n'))
    auto_before = auto_conf_settings(maintenance_db)
    query(maintenance_db, 'DROP DATABASE IF EXISTS %s WITH (FORCE)' % db)
    query(maintenance_db, 'CREATE DATABASE %s' % db)
    try:
        lines, where = build_script(items)
        if outdir:
            script = os.path.join(outdir, db + '.sql')
            f = open(script, 'w')
        else:
            f = tempfile.NamedTemporaryFile('w', suffix='.sql', prefix=db + '_', delete=False)
            script = f.name
        with f:
            f.write('\n'.join(lines) + '\n')
        env = dict(os.environ, PGOPTIONS=(os.environ.get('PGOPTIONS', '') + ' -c statement_timeout=' + STATEMENT_TIMEOUT).strip())
        out = open(os.path.join(outdir, db + '.out'), 'w') if outdir else subprocess.DEVNULL
        try:
            r = subprocess.run(['psql', '-X', '-d', db, '-v', 'ON_ERROR_STOP=0', '-f', script],
                               stdout=out, stderr=subprocess.PIPE, text=True, env=env, timeout=PSQL_TIMEOUT)
            stderr = r.stderr
        except subprocess.TimeoutExpired as e:
            stderr = (e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or '')) + \
                '\npsql:%s:0: error: the session ran longer than %d seconds and was stopped\n' % (script, PSQL_TIMEOUT)
        finally:
            if outdir:
                out.close()
        if outdir:
            with open(os.path.join(outdir, db + '.stderr'), 'w') as f:
                f.write(stderr)
        else:
            os.unlink(script)
        return attribute(stderr, items, where)
    finally:
        query(maintenance_db, 'DROP DATABASE IF EXISTS %s WITH (FORCE)' % db)
        for role in sorted(set(query(maintenance_db, 'SELECT rolname FROM pg_catalog.pg_roles').split('\n')) - roles_before):
            query(maintenance_db, 'DROP ROLE %s' % quote_ident(role))
        restore_auto_conf(maintenance_db, auto_before)


def attribute(stderr, items, where):
    """attribute reads psql's stderr and records each error on the item whose script line raised
    it; it returns a message if the preamble (CREATE EXTENSION) failed."""
    current = None              # the error being continued by DETAIL/HINT lines
    preamble = None
    for raw in stderr.split('\n'):
        m = MARKER.match(raw)
        if m:
            current = None
            if m.group('what') == 'end' and int(m.group('item')) >= 0:
                items[int(m.group('item'))].finished = True
            continue
        e = ERROR_LINE.match(raw)
        if e:
            item, mdline = where.get(int(e.group('line')), (-1, 0))
            msg = e.group('msg')
            if item < 0:
                preamble = msg
                current = None
                continue
            it = items[item]
            if mdline == -1:        # the sentinel after the block
                if 'current transaction is aborted' not in msg:
                    it.problems.append('the block ends inside a statement: a missing semicolon, or output pasted into the block (%s)' % msg)
                current = None
            elif mdline == -2:      # the ROLLBACK
                current = None
            else:
                it.errors.append([mdline, '%s: %s' % (e.group('level'), msg)])
                current = it.errors[-1]
            continue
        if OTHER_PSQL_LINE.match(raw):
            current = None
            continue
        if current is not None and re.match(r'^(DETAIL|HINT):\s', raw):
            current[1] += '\n' + raw
    return preamble


def auto_conf_settings(db):
    """auto_conf_settings returns the settings postgresql.auto.conf holds (ALTER SYSTEM)."""
    rows = query(db, "SELECT name || '=' || setting FROM pg_catalog.pg_file_settings "
                     "WHERE sourcefile LIKE '%/postgresql.auto.conf' ORDER BY seqno")
    return dict(r.split('=', 1) for r in rows.split('\n') if r)


def restore_auto_conf(db, before):
    """restore_auto_conf undoes the ALTER SYSTEM changes made since auto_conf_settings returned before."""
    now = auto_conf_settings(db)
    if now == before:
        return
    for name in now:
        if name not in before:
            query(db, 'ALTER SYSTEM RESET %s' % quote_ident(name))
        elif now[name] != before[name]:
            query(db, 'ALTER SYSTEM SET %s = %s' % (quote_ident(name), quote_literal(before[name])))
    for name in before:
        if name not in now:
            query(db, 'ALTER SYSTEM SET %s = %s' % (quote_ident(name), quote_literal(before[name])))
    query(db, 'SELECT pg_catalog.pg_reload_conf()')


def quote_ident(name):
    """quote_ident double-quotes an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value):
    """quote_literal single-quotes an SQL string."""
    return "'" + value.replace("'", "''") + "'"


def verdicts(path, items, preamble):
    """verdicts returns (ok, description, diagnostics, skip reason) for each sql block of a file,
    after folding each failing set-up into the block it prepares."""
    carried = []
    results = []
    for it in items:
        if it.kind == 'setup':
            if it.errors or it.problems or not it.finished:
                carried.append('hidden set-up at line %d failed' % it.line)
                carried += ['  %s:%d: %s' % (path, l, m) for l, m in it.errors] + ['  ' + p for p in it.problems]
                if not it.finished:
                    carried.append('  psql stopped before the end of the set-up')
            continue
        name = '%s:%d' % (path, it.line)
        if it.mode == 'skip':
            results.append((True, name, [], it.reason))
            continue
        diag = list(carried)
        carried = []
        if preamble is not None:
            diag.append('CREATE EXTENSION mlops failed: %s' % preamble)
        errors = ['%s:%d: %s' % (path, l, m) for l, m in it.errors]
        problems = ['%s:%d: %s' % (path, it.lines[-1][0] if it.lines else it.line, p) for p in it.problems]
        if not it.finished:
            problems.append('psql stopped before the end of this block (an earlier error, a \\q or an unterminated string)')
        if it.mode == 'error':
            ok = not diag and not problems and bool(errors)
            if not errors:
                problems.append('marked doctest: error, but every statement succeeded')
            name += ' (marked error)'
        else:
            ok = not diag and not problems and not errors
            diag += errors
        diag += problems
        results.append((ok, name, diag, None))
    if carried:                 # set-up after the last block
        if results:
            ok, name, diag, skip = results[-1]
            results[-1] = (False, name, diag + carried, None)
        else:
            results.append((False, '%s: set-up' % path, carried, None))
    return results


def tap(results, counter):
    """tap prints TAP lines for results, numbering from counter, and returns the next number."""
    for ok, name, diag, skip in results:
        counter += 1
        if skip is not None:
            print('ok %d - %s # SKIP %s' % (counter, name, skip))
            continue
        print('%s %d - %s' % ('ok' if ok else 'not ok', counter, name))
        for d in diag:
            for line in d.split('\n'):
                print('#   ' + line)
    return counter


def display(path):
    """display returns a file's path relative to the source tree (MLOPS_SRC, else the current
    directory) when it lies inside it."""
    shown = os.path.relpath(path, os.environ.get('MLOPS_SRC') or os.getcwd())
    return path if shown.startswith('..') else shown


def run(paths, outdir):
    """run runs every file and prints TAP; it returns the number of failing blocks."""
    parsed = []
    total = 0
    for path in paths:
        with open(path, encoding='utf-8') as f:
            text = f.read()
        try:
            items = parse(text)
        except ParseError as e:
            parsed.append((path, None, '%s:%d: %s' % (display(path), e.line, e)))
            total += 1
            continue
        parsed.append((path, items, None))
        total += max(1, len([it for it in items if it.kind == 'sql'])) if items else 0
    print('1..%d' % total)
    maintenance_db = os.environ.get('PGDATABASE', 'postgres')
    counter = 0
    failed = 0
    for path, items, error in parsed:
        shown = display(path)
        if error is not None:
            counter = tap([(False, '%s parses' % shown, [error], None)], counter)
            failed += 1
            continue
        if not items:
            continue
        if not [it for it in items if it.kind == 'sql']:
            counter = tap([(False, '%s: set-up' % shown, ['doctest: setup in a file without sql blocks'], None)], counter)
            failed += 1
            continue
        try:
            preamble = run_file(path, items, outdir, maintenance_db)
        except (RuntimeError, OSError) as e:
            preamble = 'the file could not run: %s' % e
        results = verdicts(shown, items, preamble)
        failed += len([r for r in results if not r[0]])
        counter = tap(results, counter)
    return failed


def self_test(fixture_dir):
    """self_test checks the parser on test/docs/fixtures/parse_*.md and the whole runner on
    fixtures/run_*.md, whose blocks say in a first-line comment `-- expect: pass|fail` what the
    runner must conclude; it prints TAP and returns the number of failures."""
    checks = []

    def check(ok, name, diag=''):
        checks.append((ok, name, diag))

    # the parser
    items = parse(open(os.path.join(fixture_dir, 'parse_basic.md'), encoding='utf-8').read())
    sql = [it for it in items if it.kind == 'sql']
    check([it.line for it in sql] == [4, 11, 15, 19, 26], 'sql blocks are found at their fence lines, other languages ignored',
          [it.line for it in sql])
    check([it.mode for it in sql] == ['run', 'skip', 'error', 'run', 'run'], 'skip and error apply to the next fence only',
          [it.mode for it in sql])
    check(sql[1].reason == 'needs a second server', 'a skip keeps its reason', sql[1].reason)
    check(sql[3].lines == [(20, 'SELECT 3;'), (21, '  SELECT 4;')], 'an indented fence loses its indentation only',
          sql[3].lines)
    setups = [it for it in items if it.kind == 'setup']
    check([(s.line, [t for _, t in s.lines]) for s in setups] ==
          [(1, ['CREATE TABLE t (x int);']), (23, ['INSERT INTO t VALUES (1);', 'INSERT INTO t VALUES (2);'])],
          'set-ups on one line and spanning lines keep their SQL and lines',
          [(s.line, s.lines) for s in setups])
    check([it.kind for it in items] == ['setup', 'sql', 'sql', 'sql', 'sql', 'setup', 'sql'], 'items keep document order',
          [it.kind for it in items])
    for name, text, wanted in [
            ('an unknown directive', '<!-- doctest: skipp x -->\n```sql\nSELECT 1;\n```\n', 'unknown doctest directive'),
            ('skip without a reason', '<!-- doctest: skip -->\n```sql\nSELECT 1;\n```\n', 'needs a reason'),
            ('a directive away from its fence', '<!-- doctest: error -->\n\n```sql\nSELECT 1;\n```\n', 'right before a fence'),
            ('a directive before a non-sql block', '<!-- doctest: skip why -->\n```sh\nls\n```\n', 'not ```sql'),
            ('an unclosed fence', '```sql\nSELECT 1;\n', 'never closed'),
            ('an unclosed comment', '<!-- doctest: setup SELECT 1;\n', 'never closed')]:
        try:
            parse(text)
            check(False, 'the parser rejects %s' % name, 'accepted')
        except ParseError as e:
            check(wanted in str(e), 'the parser rejects %s' % name, str(e))

    # the runner, end to end, against the cluster
    path = os.path.join(fixture_dir, 'run_conventions.md')
    items = parse(open(path, encoding='utf-8').read())
    preamble = run_file(path, items, None, os.environ.get('PGDATABASE', 'postgres'))
    results = verdicts('run_conventions.md', items, preamble)
    blocks = [it for it in items if it.kind == 'sql']
    check(len(results) == len(blocks), 'one result per block of the fixture', len(results))
    for it, (ok, name, diag, skip) in zip(blocks, results):
        first = it.lines[0][1] if it.lines else ''
        m = re.match(r'^--\s*expect:\s*(pass|fail|skip)\b[,:]?\s*(.*)$', first)
        if not m:
            check(False, '%s says what it expects' % name, first)
            continue
        want, why = m.group(1), m.group(2).strip()
        got = 'skip' if skip is not None else ('pass' if ok else 'fail')
        check(got == want, '%s: %s%s' % (name, want, ', ' + why if why else ''), diag)
    roles = query(os.environ.get('PGDATABASE', 'postgres'),
                  "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = 'doctest_fixture_role'").strip()
    check(roles == '0', 'roles a file creates are dropped afterwards', roles)
    tz = query(os.environ.get('PGDATABASE', 'postgres'),
               "SELECT count(*) FROM pg_catalog.pg_file_settings WHERE name = 'mlops.timezone' "
               "AND sourcefile LIKE '%/postgresql.auto.conf'").strip()
    check(tz == '0', 'ALTER SYSTEM changes of a file are undone afterwards', tz)

    print('1..%d' % len(checks))
    for n, (ok, name, diag) in enumerate(checks, 1):
        print('%s %d - self-test: %s' % ('ok' if ok else 'not ok', n, name))
        if not ok:
            print('#   got: %s' % (diag,))
    return len([c for c in checks if not c[0]])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--self-test', metavar='FIXTURE_DIR', help='check the parser and the runner on fixtures')
    ap.add_argument('--outdir', help='keep each file\'s psql script, output and messages here')
    ap.add_argument('files', nargs='*')
    args = ap.parse_args()
    if args.outdir:
        os.makedirs(args.outdir, exist_ok=True)
    if args.self_test:
        return 1 if self_test(args.self_test) else 0
    return 1 if run(args.files, args.outdir) else 0


if __name__ == '__main__':
    sys.exit(main())
