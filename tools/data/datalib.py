"""Shared by tools/data/textures.py and materials.py (the helpers of rebuild-textures.sh and
rebuild-materials.sh): manifest reading, archive extraction, atomic writes, the worker pool and
the extract / build / verify command line, written once."""
import argparse
import csv
import multiprocessing
import os
import sys
import zipfile


def read_manifest(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def extract_zip_members(root, wanted, out):
    """Copy each member of wanted ({archive path under root: set of member names}) to
    out/<archive file name>/<member>; exits naming the archive when a member is missing."""
    total = 0
    for archive, members in sorted(wanted.items()):
        with zipfile.ZipFile(os.path.join(root, archive)) as z:
            missing = sorted(members - set(z.namelist()))
            if missing:
                sys.exit("extract: %s lacks %d member(s), e.g. %s" % (archive, len(missing), missing[0]))
            dest = os.path.join(out, os.path.basename(archive))
            for m in sorted(members):
                target = os.path.join(dest, m)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with z.open(m) as fin, open(target + ".tmp", "wb") as fout:
                    while chunk := fin.read(1 << 20):
                        fout.write(chunk)
                os.replace(target + ".tmp", target)
        print("extract: %d source textures from %s" % (len(members), archive))
        total += len(members)
    print("extract: %d source textures in all" % total)


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def run_pool(fn, jobs, processes, total):
    """Runs fn over jobs (each returns how many rows it did) in a pool, showing progress on a
    terminal; returns the number of rows done."""
    done = 0
    with multiprocessing.Pool(processes) as pool:
        for n in pool.imap_unordered(fn, jobs):
            done += n
            if sys.stdout.isatty():
                print("\rbuild: %d/%d" % (done, total), end="", flush=True)
    if sys.stdout.isatty():
        print()
    return done


def list_files(root):
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


def compare_trees(out, ref):
    """Compares the files of ref with those of out: returns (byte-identical, different,
    missing, extra) as sorted lists of relative paths; 'different' files exist in both."""
    out_files, ref_files = list_files(out), list_files(ref)
    exact, different, missing = [], [], []
    for rel in sorted(ref_files):
        if rel not in out_files:
            missing.append(rel)
            continue
        with open(os.path.join(out, rel), "rb") as fo, open(os.path.join(ref, rel), "rb") as fr:
            (exact if fo.read() == fr.read() else different).append(rel)
    return exact, different, missing, sorted(out_files - ref_files)


def print_some(label, items, most=20):
    """verify's listing of files: the first `most` of items, then how many more."""
    for item in items[:most]:
        print("verify:   %s: %s" % (label, item))
    if len(items) > most:
        print("verify:   ... %d more %s" % (len(items) - most, label))


def main(doc, extract, build, verify):
    """The helpers' command line: extract / build / verify (see each helper's docstring)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("--manifest", required=True)
    e.add_argument("--root", required=True)
    e.add_argument("--out", required=True)
    b = sub.add_parser("build")
    b.add_argument("--manifest", required=True)
    b.add_argument("--src", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    v = sub.add_parser("verify")
    v.add_argument("out")
    v.add_argument("ref")
    args = p.parse_args()
    if args.cmd == "extract":
        extract(args)
    elif args.cmd == "build":
        build(args)
    else:
        sys.exit(verify(args))
