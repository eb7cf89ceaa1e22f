#!/usr/bin/python3
"""check_meta.py SRCDIR -- META.json against the PGXN Meta Spec 1.0.0, and the versions that must agree.

Prints TAP.  Debian's pgxnclient installs, searches and downloads distributions but has no command
that validates a META.json, so this is a validator of the documented spec (https://pgxn.org/spec/,
version 1.0.0): the required keys (name, version, abstract, maintainer, license, provides,
meta-spec), the form of every key the spec defines (terms, SemVer versions, version ranges, the
license names, prereq phases and relationships, resources), no keys beyond them except custom
x_/X_ ones, and files named by provides that exist in the tree.  Its own first tests feed it broken
copies of META.json, each of which it must reject, so a validator that accepts anything fails.

Then: META.json's version equals provides.mlops.version, mlops.control's default_version, the
Makefile's EXTVERSION and debian/changelog's version.
"""
import copy
import json
import os
import re
import sys

SEMVER = r'(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)' \
         r'(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?' \
         r'(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?'
VERSION = re.compile('^' + SEMVER + '$')
RANGE_ITEM = re.compile(r'^(?:(?:==|!=|<=|>=|<|>)\s*)?' + SEMVER + '$')
TERM = re.compile(r'^[^/\\\s\x00-\x1f\x7f]{2,}$')
TAG = re.compile(r'^[^/\\\x00-\x1f\x7f]{2,255}$')
URI = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]+$')
EMAIL = re.compile(r'^[^@\s]+@[^@\s]+\.[^@\s]+$')
LICENSES = {
    'agpl_3', 'apache_1_1', 'apache_2_0', 'artistic_1', 'artistic_2', 'bsd', 'freebsd', 'gfdl_1_2',
    'gfdl_1_3', 'gpl_1', 'gpl_2', 'gpl_3', 'lgpl_2_1', 'lgpl_3_0', 'mit', 'mozilla_1_0', 'mozilla_1_1',
    'openssl', 'perl_5', 'postgresql', 'qpl_1_0', 'ssleay', 'sun', 'zlib', 'open_source', 'restricted',
    'unrestricted', 'unknown'}
TOP_KEYS = {'name', 'version', 'abstract', 'maintainer', 'license', 'provides', 'meta-spec',
            'description', 'generated_by', 'tags', 'no_index', 'prereqs', 'release_status', 'resources'}
REQUIRED = ['name', 'version', 'abstract', 'maintainer', 'license', 'provides', 'meta-spec']
PHASES = {'configure', 'build', 'test', 'runtime', 'develop'}
RELATIONSHIPS = {'requires', 'recommends', 'suggests', 'conflicts'}


def custom(key):
    """custom returns whether key is a custom key (x_ or X_ and at least one more character)."""
    return re.match(r'^[xX]_.', key) is not None


def nonempty_string(v):
    """nonempty_string returns whether v is a string of at least one character."""
    return isinstance(v, str) and len(v) > 0


def check_keys(obj, allowed, where, errors):
    """check_keys reports the keys of obj that are neither allowed nor custom."""
    for k in obj:
        if k not in allowed and not custom(k):
            errors.append('%s: unknown key "%s"' % (where, k))


def check_license(v, errors):
    """check_license: a license name, a non-empty array of distinct names, or an object name -> URL."""
    if isinstance(v, str):
        if v not in LICENSES:
            errors.append('license: "%s" is not one of the spec\'s license names' % v)
    elif isinstance(v, list):
        if not v or len(set(map(str, v))) != len(v):
            errors.append('license: an array must be non-empty and without duplicates')
        for x in v:
            if x not in LICENSES:
                errors.append('license: "%s" is not one of the spec\'s license names' % x)
    elif isinstance(v, dict):
        if not v:
            errors.append('license: an object needs at least one license')
        for name, url in v.items():
            if not isinstance(url, str) or not URI.match(url):
                errors.append('license: the URL of "%s" is not a URI' % name)
    else:
        errors.append('license: must be a string, an array or an object')


def check_provides(v, root, errors):
    """check_provides: an object of extension name -> {file, version, abstract, docfile, docpath}."""
    if not isinstance(v, dict) or not v:
        errors.append('provides: must be an object naming at least one extension')
        return
    for name, ext in v.items():
        where = 'provides.%s' % name
        if not TERM.match(name):
            errors.append('%s: the name is not a term' % where)
        if not isinstance(ext, dict):
            errors.append('%s: must be an object' % where)
            continue
        check_keys(ext, {'file', 'version', 'abstract', 'docfile', 'docpath'}, where, errors)
        for req in ('file', 'version'):
            if req not in ext:
                errors.append('%s: "%s" is required' % (where, req))
        if 'version' in ext and not (isinstance(ext['version'], str) and VERSION.match(ext['version'])):
            errors.append('%s.version: not a semantic version' % where)
        for key in ('file', 'docfile'):
            if key in ext:
                path = ext[key]
                if not isinstance(path, str) or len(path) < 2 or path.startswith('/') or '\\' in path:
                    errors.append('%s.%s: not a relative Unix path' % (where, key))
                elif root and not os.path.isfile(os.path.join(root, path)):
                    errors.append('%s.%s: %s does not exist in the distribution' % (where, key, path))
        for key in ('abstract', 'docpath'):
            if key in ext and not nonempty_string(ext[key]):
                errors.append('%s.%s: must be a non-empty string' % (where, key))


def check_prereqs(v, errors):
    """check_prereqs: phases -> relationships -> prerequisite name -> 0 or a version range."""
    if not isinstance(v, dict) or not v:
        errors.append('prereqs: must be an object with at least one phase')
        return
    check_keys(v, PHASES, 'prereqs', errors)
    for phase, rels in v.items():
        if custom(phase):
            continue
        if not isinstance(rels, dict) or not rels:
            errors.append('prereqs.%s: must be an object with at least one relationship' % phase)
            continue
        check_keys(rels, RELATIONSHIPS, 'prereqs.%s' % phase, errors)
        for rel, reqs in rels.items():
            where = 'prereqs.%s.%s' % (phase, rel)
            if custom(rel):
                continue
            if not isinstance(reqs, dict) or not reqs:
                errors.append('%s: must be an object with at least one prerequisite' % where)
                continue
            for name, rng in reqs.items():
                if not TERM.match(name):
                    errors.append('%s: "%s" is not a term' % (where, name))
                if rng == 0 or rng == '0':
                    continue
                if not isinstance(rng, str) or not all(RANGE_ITEM.match(p.strip()) for p in rng.split(',')):
                    errors.append('%s.%s: "%s" is not a version range' % (where, name, rng))


def check_resources(v, errors):
    """check_resources: homepage, bugtracker {web, mailto}, repository {url + type, web}."""
    if not isinstance(v, dict) or not any(k in v for k in ('homepage', 'bugtracker', 'repository')):
        errors.append('resources: must be an object with homepage, bugtracker or repository')
        return
    check_keys(v, {'homepage', 'bugtracker', 'repository'}, 'resources', errors)
    if 'homepage' in v and not (isinstance(v['homepage'], str) and URI.match(v['homepage'])):
        errors.append('resources.homepage: not a URI')
    bt = v.get('bugtracker')
    if bt is not None:
        if not isinstance(bt, dict) or not ('web' in bt or 'mailto' in bt):
            errors.append('resources.bugtracker: needs web or mailto')
        else:
            check_keys(bt, {'web', 'mailto'}, 'resources.bugtracker', errors)
            if 'web' in bt and not (isinstance(bt['web'], str) and URI.match(bt['web'])):
                errors.append('resources.bugtracker.web: not a URI')
            if 'mailto' in bt and not (isinstance(bt['mailto'], str) and EMAIL.match(bt['mailto'])):
                errors.append('resources.bugtracker.mailto: not an email address')
    repo = v.get('repository')
    if repo is not None:
        if not isinstance(repo, dict) or not (('url' in repo and 'type' in repo) or 'web' in repo):
            errors.append('resources.repository: needs url and type, or web')
        else:
            check_keys(repo, {'url', 'web', 'type'}, 'resources.repository', errors)
            for k in ('url', 'web'):
                if k in repo and not (isinstance(repo[k], str) and URI.match(repo[k])):
                    errors.append('resources.repository.%s: not a URI' % k)
            if 'type' in repo and not (isinstance(repo['type'], str) and re.match(r'^[a-z]+$', repo['type'])):
                errors.append('resources.repository.type: must be lower-case letters')


def validate(meta, root=None):
    """validate returns the list of the ways meta breaks the PGXN Meta Spec 1.0.0 (empty if none)."""
    errors = []
    if not isinstance(meta, dict):
        return ['the document must be a JSON object']
    for k in REQUIRED:
        if k not in meta:
            errors.append('"%s" is required' % k)
    check_keys(meta, TOP_KEYS, 'META.json', errors)
    if 'name' in meta and not (isinstance(meta['name'], str) and TERM.match(meta['name'])):
        errors.append('name: not a term (2 or more characters, no slash, backslash, space or control)')
    if 'version' in meta and not (isinstance(meta['version'], str) and VERSION.match(meta['version'])):
        errors.append('version: not a semantic version')
    for k in ('abstract', 'description', 'generated_by'):
        if k in meta and not nonempty_string(meta[k]):
            errors.append('%s: must be a non-empty string' % k)
    if 'maintainer' in meta:
        m = meta['maintainer']
        if not (nonempty_string(m) or (isinstance(m, list) and m and all(nonempty_string(x) for x in m)
                                       and len(set(m)) == len(m))):
            errors.append('maintainer: must be a string or a non-empty array of distinct strings')
    if 'license' in meta:
        check_license(meta['license'], errors)
    if 'provides' in meta:
        check_provides(meta['provides'], root, errors)
    if 'meta-spec' in meta:
        ms = meta['meta-spec']
        if not isinstance(ms, dict) or not re.match(r'^1\.0\.\d+$', str(ms.get('version', ''))):
            errors.append('meta-spec: needs version 1.0.x')
        else:
            check_keys(ms, {'version', 'url'}, 'meta-spec', errors)
            if 'url' in ms and ms['url'] not in ('https://pgxn.org/meta/spec.txt', 'http://pgxn.org/meta/spec.txt'):
                errors.append('meta-spec.url: must be the spec\'s URL')
    if 'tags' in meta:
        t = meta['tags']
        if not isinstance(t, list) or not t or len(set(map(str, t))) != len(t) \
                or not all(isinstance(x, str) and TAG.match(x) for x in t):
            errors.append('tags: must be a non-empty array of distinct tags of 2 to 255 characters')
    if 'release_status' in meta and meta['release_status'] not in ('stable', 'testing', 'unstable'):
        errors.append('release_status: must be stable, testing or unstable')
    if 'prereqs' in meta:
        check_prereqs(meta['prereqs'], errors)
    if 'resources' in meta:
        check_resources(meta['resources'], errors)
    if 'no_index' in meta:
        ni = meta['no_index']
        if not isinstance(ni, dict) or not ('file' in ni or 'directory' in ni):
            errors.append('no_index: needs file or directory')
    return errors


def broken_copies(meta):
    """broken_copies yields (what, copy of meta) for documents the spec rejects."""
    def changed(what, f):
        m = copy.deepcopy(meta)
        f(m)
        return what, m
    for k in REQUIRED:
        yield changed('without %s' % k, lambda m, k=k: m.pop(k))
    yield changed('with a version that is not SemVer', lambda m: m.update(version='0.2'))
    yield changed('with a name with a slash', lambda m: m.update(name='ml/ops'))
    yield changed('with an unknown license', lambda m: m.update(license='PostgreSQL License'))
    yield changed('with an unknown top-level key', lambda m: m.update(homepage='https://example.org/'))
    yield changed('with an extension without file', lambda m: m['provides']['mlops'].pop('file'))
    yield changed('with an extension file that does not exist',
                  lambda m: m['provides']['mlops'].update(file='sql/missing.sql'))
    yield changed('with meta-spec 2.0.0', lambda m: m['meta-spec'].update(version='2.0.0'))
    yield changed('with an unknown prereq phase', lambda m: m.update(prereqs={'install': {'requires': {'PostgreSQL': 0}}}))
    yield changed('with a bad version range',
                  lambda m: m.update(prereqs={'runtime': {'requires': {'PostgreSQL': '~> 15'}}}))
    yield changed('with an empty abstract', lambda m: m.update(abstract=''))


def main():
    root = sys.argv[1]
    tests = []

    def ok(cond, what, detail=()):
        tests.append((cond, what, list(detail)))

    with open(os.path.join(root, 'META.json')) as f:
        meta = json.load(f)
    for what, broken in broken_copies(meta):
        ok(bool(validate(broken, root)), 'the validator rejects a META.json %s' % what)
    errors = validate(meta, root)
    ok(not errors, 'META.json follows the PGXN Meta Spec 1.0.0', errors)

    control = open(os.path.join(root, 'mlops.control')).read()
    default_version = re.search(r"^default_version\s*=\s*'([^']*)'", control, re.M)
    makefile = open(os.path.join(root, 'Makefile')).read()
    extversion = re.search(r'^EXTVERSION\s*=\s*(\S+)', makefile, re.M)
    changelog = open(os.path.join(root, 'debian', 'changelog')).readline()
    debversion = re.match(r'^\S+ \(([^)]*)\)', changelog)
    version = meta.get('version')
    ok(default_version is not None and default_version.group(1) == version,
       "META.json's version (%s) is mlops.control's default_version (%s)"
       % (version, default_version.group(1) if default_version else 'missing'))
    ok(extversion is not None and extversion.group(1) == version,
       "META.json's version is the Makefile's EXTVERSION (%s)" % (extversion.group(1) if extversion else 'missing'))
    provided = meta.get('provides', {}).get('mlops', {}).get('version')
    ok(provided == version, "META.json's provides.mlops.version (%s) is its version" % provided)
    ok(debversion is not None and debversion.group(1) == version,
       "debian/changelog's version (%s) is META.json's" % (debversion.group(1) if debversion else 'missing'))

    print('1..%d' % len(tests))
    for i, (cond, what, detail) in enumerate(tests, 1):
        print('%sok %d - %s' % ('' if cond else 'not ', i, what))
        for d in detail:
            print('#   ' + d)
    return 0 if all(t[0] for t in tests) else 1


if __name__ == '__main__':
    sys.exit(main())
