#!/usr/bin/python3
"""run_ops_doc.py -- runs the shell commands of docs/operations.md, as TAP (make test's package suite).

    run_ops_doc.py DOC --conf                      prints the ```ini block (postgresql.conf lines)
    run_ops_doc.py DOC --stage install --logdir D  runs the ```sh blocks of the section "Install"
    run_ops_doc.py DOC --stage server --logdir D   checks that the ```ini lines are in effect
                                                   (SHOW), then runs every other ```sh block

Each ```sh block runs in order with `bash -e -o pipefail`, in the current directory (a checkout),
with the environment it is given: the libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE) and
PGDATA point at the scratch cluster, TEXTFILE_DIR at a scratch directory.  Commands are run as
written, except lines starting with `sudo`, which a test must not run as such; each is replaced by
the one thing below that changes nothing outside the test (any other `sudo` line fails the block):

    sudo apt install ARGS                     apt-get install --simulate ARGS  (resolves the
                                              dependencies of the packages or .deb files named)
    sudo apt remove postgresql-15-mlops       removes the files of $MLOPS_OPS_DEB from the scratch
                                              root $MLOPS_OPS_ROOT
    sudo make install ARGS                    make install ARGS DESTDIR=$MLOPS_OPS_DESTDIR
    sudo systemctl restart postgresql@15-main pg_ctl restart -D $PGDATA (log: $MLOPS_OPS_LOG)
    sudo systemctl reload postgresql@15-main  pg_ctl reload -D $PGDATA

Hidden directives (HTML comments, so a reader does not see them):

    <!-- opstest: setup COMMANDS -->   shell run before the next ```sh block (e.g. a database that
                                       the reader already has); its failure fails that block
    <!-- opstest: check COMMANDS -->   shell run after the previous ```sh block, which fails unless
                                       it succeeds (what the block must have achieved)

`<!-- doctest: ... -->` directives belong to the docs suite (SQL blocks) and are ignored here.
Each block's output goes to LOGDIR/ops-LINE.log; a failure prints its last lines as TAP comments.
"""
import argparse
import os
import re
import subprocess
import sys

FENCE = re.compile(r'^(`{3,}|~{3,})\s*([^`\s]*)')
DIRECTIVE = re.compile(r'^\s*<!--\s*opstest\s*:\s*(\w+)\s?(.*)$', re.S)
BLOCK_TIMEOUT = 900

SUDO = [
    (re.compile(r'^sudo apt install (.+)$'), lambda m: 'apt-get install --simulate ' + m.group(1)),
    (re.compile(r'^sudo apt remove postgresql-15-mlops$'),
     lambda m: 'dpkg-deb --contents "$MLOPS_OPS_DEB" | awk \'$1 !~ /^d/ {print $6}\' | '
               'while read -r f; do rm -f "$MLOPS_OPS_ROOT/${f#./}"; done'),
    (re.compile(r'^sudo make install(.*)$'), lambda m: 'make install' + m.group(1) + ' DESTDIR="$MLOPS_OPS_DESTDIR"'),
    (re.compile(r'^sudo systemctl restart postgresql@15-main$'),
     lambda m: 'pg_ctl restart -D "$PGDATA" -w -m fast -l "$MLOPS_OPS_LOG" >/dev/null'),
    (re.compile(r'^sudo systemctl reload postgresql@15-main$'), lambda m: 'pg_ctl reload -D "$PGDATA"'),
]


class Block:
    """Block is a ```sh block: its Markdown line, section, text, and the hidden set-up and checks."""

    def __init__(self, line, section, text):
        self.line = line
        self.section = section
        self.text = text
        self.setups = []
        self.checks = []


def parse(path):
    """parse returns (sh blocks, ini lines) of a Markdown file; it raises ValueError on a directive
    it does not know, a check with no block before it, or an unclosed fence."""
    lines = open(path).read().split('\n')
    blocks, ini, pending = [], None, []
    section = ''
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('## '):
            section = line[3:].strip()
        d = DIRECTIVE.match(line)
        if d:
            verb, rest, start = d.group(1), d.group(2), i + 1
            while '-->' not in rest and i + 1 < len(lines):
                i += 1
                rest += '\n' + lines[i]
            if '-->' not in rest:
                raise ValueError('%s:%d: unclosed opstest directive' % (path, start))
            body = rest[:rest.index('-->')].strip()
            if verb == 'setup':
                pending.append(body)
            elif verb == 'check':
                if not blocks:
                    raise ValueError('%s:%d: a check with no sh block before it' % (path, start))
                blocks[-1].checks.append(body)
            else:
                raise ValueError('%s:%d: unknown opstest directive "%s"' % (path, start, verb))
            i += 1
            continue
        f = FENCE.match(line)
        if f:
            fence, info, start = f.group(1), f.group(2), i + 1
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith(fence):
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError('%s:%d: unclosed fence' % (path, start))
            if info == 'sh':
                b = Block(start, section, '\n'.join(body))
                b.setups, pending = pending, []
                blocks.append(b)
            elif info == 'ini':
                ini = body
        i += 1
    return blocks, ini


def translate(text):
    """translate returns the block with its sudo lines replaced (see the header), or raises
    ValueError for a sudo line without a replacement."""
    out = []
    for line in text.split('\n'):
        stripped = line.strip()
        if stripped.startswith('sudo '):
            command = re.sub(r'\s+#.*$', '', stripped)
            for pattern, repl in SUDO:
                m = pattern.match(command)
                if m:
                    out.append(line[:len(line) - len(line.lstrip())] + repl(m))
                    break
            else:
                raise ValueError('no test replacement for "%s"' % stripped)
        else:
            out.append(line)
    return '\n'.join(out)


def run(script, logfile):
    """run runs a bash script, appending its output to logfile; returns (exit code, output)."""
    try:
        p = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', script], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=BLOCK_TIMEOUT)
        out, rc = p.stdout.decode(errors='replace'), p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b'').decode(errors='replace') + '\n(timed out)', 124
    with open(logfile, 'a') as f:
        f.write('$ ' + script.replace('\n', '\n$ ') + '\n' + out + '\n(exit %d)\n' % rc)
    return rc, out


def conf_settings(ini):
    """conf_settings returns the (name, value) pairs of postgresql.conf lines, quotes removed."""
    pairs = []
    for line in ini:
        line = re.sub(r'\s+#.*$', '', line).strip()
        if not line or line.startswith('#'):
            continue
        name, value = [x.strip() for x in line.split('=', 1)]
        pairs.append((name, value.strip("'")))
    return pairs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('doc')
    ap.add_argument('--conf', action='store_true')
    ap.add_argument('--stage', choices=['install', 'server'])
    ap.add_argument('--logdir', default='.')
    args = ap.parse_args()
    name = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(args.doc))), os.path.basename(args.doc))
    try:
        blocks, ini = parse(args.doc)
    except ValueError as e:
        print('1..1\nnot ok 1 - %s parses\n# %s' % (name, e))
        return 1
    if args.conf:
        print('\n'.join(ini or []))
        return 0 if ini else 1

    tests = []
    if args.stage == 'server':
        for setting, value in conf_settings(ini or []):
            p = subprocess.run(['psql', '-XAt', '-d', 'postgres', '-c', 'SHOW ' + setting], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            shown = p.stdout.decode(errors='replace').strip()
            tests.append((p.returncode == 0 and shown.lower() == value.lower(),
                          '%s: postgresql.conf line %s = %s is in effect' % (name, setting, value),
                          [] if shown.lower() == value.lower() else ['SHOW %s says %s' % (setting, shown)]))
    chosen = [b for b in blocks if (b.section == 'Install') == (args.stage == 'install')]
    if not chosen:
        tests.append((False, '%s has sh blocks for the %s stage' % (name, args.stage), []))
    for b in chosen:
        log = os.path.join(args.logdir, 'ops-%d.log' % b.line)
        what = '%s:%d: sh block (%s)' % (name, b.line, b.section)
        problems = []
        for s in b.setups:
            rc, out = run(s, log)
            if rc != 0:
                problems.append('hidden set-up failed: %s' % s)
                problems += out.strip().split('\n')[-10:]
        if not problems:
            try:
                rc, out = run(translate(b.text), log)
            except ValueError as e:
                rc, out = 1, str(e)
            if rc != 0:
                problems.append('exit %d; last lines of its output (all in %s):' % (rc, log))
                problems += out.strip().split('\n')[-30:]
        if not problems:
            for c in b.checks:
                rc, out = run(c, log)
                if rc != 0:
                    problems.append('its hidden check failed: %s' % c)
                    problems += out.strip().split('\n')[-10:]
        tests.append((not problems, what, problems))

    print('1..%d' % len(tests))
    for i, (cond, what, detail) in enumerate(tests, 1):
        print('%sok %d - %s' % ('' if cond else 'not ', i, what))
        for d in detail:
            print('#   ' + d)
    sys.stdout.flush()
    return 0 if all(t[0] for t in tests) else 1


if __name__ == '__main__':
    sys.exit(main())
