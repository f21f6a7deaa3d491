"""System-side helpers of scripts/bench: CPU and memory sampling from /proc,
FUSE request-size tracing through tracefs, page-cache control, statistics,
and a watchdog that unblocks a hung mount.

Stdlib only; run as root (drop_caches, clear_refs, tracefs, FUSE).
"""
import os
import re
import subprocess
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
GB = 1e9
MiB = 1 << 20


# --- statistics ---------------------------------------------------------------

def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def pct(sorted_xs, q):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_xs:
        return None
    k = max(0, min(len(sorted_xs) - 1, int(-(-q * len(sorted_xs) // 1)) - 1))
    return sorted_xs[k]


def summary(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


# --- /proc ------------------------------------------------------------------

def proc_ticks(pid):
    """(utime, stime) in clock ticks of a whole process (all threads, incl.
    exited ones), or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]), int(fields[12])


def thread_ticks(pid):
    """{tid: (ticks, starttime)} for the live threads of pid."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12]), int(fields[19]))
    return out


def system_ticks():
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts[:8]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def boot_ticks_now():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) * CLK_TCK


def status_kib(pid, key):
    """A kB field of /proc/PID/status (VmHWM, VmRSS), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_hwm(pid):
    """Resets VmHWM of pid to its current RSS (clear_refs 5)."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def thread_count(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return None


def tcp_mem_kib():
    """Kernel memory of all TCP sockets (/proc/net/sockstat, pages)."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    w = line.split()
                    return int(w[w.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class CpuSampler:
    """Samples named processes while a measurement runs.

    Per process: CPU seconds (user, sys) over the interval, and the CPU
    seconds of its busiest thread (threads are sampled every `interval`
    seconds, so a thread that dies between samples loses at most one
    interval of its time). Also system busy share of all CPUs and the
    maximum VmRSS seen, and the peak of the kernel's TCP socket memory
    above its level at the start (the splice path's read-ahead lives in
    socket buffers, not in the daemon's RSS).
    """

    def __init__(self, pids, interval=0.05):
        self.pids = {k: v for k, v in pids.items() if v}
        self.interval = interval
        self.stop_ev = threading.Event()
        self.thr = None

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.boot0 = boot_ticks_now()
        self.sys0 = system_ticks()
        self.proc0 = {k: proc_ticks(p) for k, p in self.pids.items()}
        self.base = {k: {} for k in self.pids}
        self.last = {k: {} for k in self.pids}
        self.rss_max = {k: 0 for k in self.pids}
        self.tcp0 = tcp_mem_kib()
        self.tcp_max = self.tcp0
        for k, p in self.pids.items():
            for tid, (ticks, _start) in thread_ticks(p).items():
                self.base[k][tid] = ticks
                self.last[k][tid] = ticks
        self.thr = threading.Thread(target=self._run, daemon=True)
        self.thr.start()
        return self

    def _sample(self):
        for k, p in self.pids.items():
            for tid, (ticks, start) in thread_ticks(p).items():
                if tid not in self.base[k]:
                    # born during the run: count from zero
                    self.base[k][tid] = 0 if start >= self.boot0 else ticks
                self.last[k][tid] = ticks
            rss = status_kib(p, "VmRSS")
            if rss and rss > self.rss_max[k]:
                self.rss_max[k] = rss
        tcp = tcp_mem_kib()
        if tcp is not None and self.tcp_max is not None and tcp > self.tcp_max:
            self.tcp_max = tcp

    def _run(self):
        while not self.stop_ev.wait(self.interval):
            self._sample()

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.thr.join()
        self._sample()
        self.wall = time.perf_counter() - self.t0
        s1 = system_ticks()
        busy = s1[0] - self.sys0[0]
        total = s1[1] - self.sys0[1]
        self.system_busy = busy / total if total else None
        self.tcp_peak_kib = (self.tcp_max - self.tcp0
                             if self.tcp0 is not None else None)
        self.procs = {}
        for k, p in self.pids.items():
            a, b = self.proc0[k], proc_ticks(p)
            if not a or not b:
                continue
            per_thread = [self.last[k][t] - self.base[k][t] for t in self.last[k]]
            self.procs[k] = {
                "user": (b[0] - a[0]) / CLK_TCK,
                "sys": (b[1] - a[1]) / CLK_TCK,
                "top_thread": max(per_thread) / CLK_TCK if per_thread else 0.0,
                "rss_max_kib": self.rss_max[k],
            }
        return False


# --- page cache ---------------------------------------------------------------

def drop_caches():
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")


def warm(path):
    """Reads a local file so it sits in the page cache."""
    buf = bytearray(8 * MiB)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


# --- FUSE request sizes (tracefs) -------------------------------------------

TRACEFS = "/sys/kernel/tracing"
_SEND = re.compile(r"fuse_request_send: connection (\d+) req (\d+) opcode (\d+)")
_END = re.compile(r"fuse_request_end: connection (\d+) req (\d+) len (\d+) error (-?\d+)")
FUSE_READ = 15
FUSE_OPCODES = {1: "LOOKUP", 3: "GETATTR", 14: "OPEN", 15: "READ", 18: "RELEASE",
                22: "GETXATTR", 23: "LISTXATTR", 25: "FLUSH", 27: "OPENDIR",
                28: "READDIR", 29: "RELEASEDIR", 44: "READDIRPLUS", 52: "STATX"}


class FuseTrace:
    """Counts FUSE requests (and READ reply sizes) of one mount, using a
    private tracefs instance so nobody else's tracing is disturbed."""

    def __init__(self, tag):
        self.dir = os.path.join(TRACEFS, "instances", "bfbench-%s" % tag)
        self.ok = False

    def setup(self):
        try:
            if not os.path.isdir(self.dir):
                os.mkdir(self.dir)
            self._w("buffer_size_kb", "32768")
            self._w("events/fuse/fuse_request_send/enable", "1")
            self._w("events/fuse/fuse_request_end/enable", "1")
            self._w("tracing_on", "0")
            self.ok = True
        except OSError:
            self.ok = False
        return self.ok

    def _w(self, name, val):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(val)

    def start(self):
        if self.ok:
            self._w("trace", "")
            self._w("tracing_on", "1")

    def stop(self, dev_minor):
        """Returns {"ops": {name: n}, "read_sizes": {bytes: n}, "lost": bool}."""
        if not self.ok:
            return None
        self._w("tracing_on", "0")
        with open(os.path.join(self.dir, "trace")) as f:
            text = f.read()
        reads, ops, sizes = set(), {}, {}
        for m in _SEND.finditer(text):
            if int(m.group(1)) != dev_minor:
                continue
            op = int(m.group(3))
            name = FUSE_OPCODES.get(op, str(op))
            ops[name] = ops.get(name, 0) + 1
            if op == FUSE_READ:
                reads.add(int(m.group(2)))
        for m in _END.finditer(text):
            if int(m.group(1)) == dev_minor and int(m.group(2)) in reads:
                n = max(0, int(m.group(3)) - 16)
                sizes[n] = sizes.get(n, 0) + 1
        lost = "LOST" in text[:4096] or len(reads) != sum(sizes.values())
        return {"ops": ops, "read_sizes": sizes, "lost": lost}

    def teardown(self):
        if os.path.isdir(self.dir):
            try:
                self._w("tracing_on", "0")
                self._w("events/fuse/enable", "0")
                os.rmdir(self.dir)
            except OSError:
                pass


def mount_minor(path):
    return os.minor(os.stat(path).st_dev)


def read_ahead_kb(path):
    """The kernel read-ahead of the bdi behind a mount (0:NN)."""
    st = os.stat(path)
    p = "/sys/class/bdi/%d:%d/read_ahead_kb" % (os.major(st.st_dev), os.minor(st.st_dev))
    try:
        with open(p) as f:
            return int(f.read())
    except OSError:
        return None


def set_read_ahead_kb(path, kb):
    st = os.stat(path)
    p = "/sys/class/bdi/%d:%d/read_ahead_kb" % (os.major(st.st_dev), os.minor(st.st_dev))
    with open(p, "w") as f:
        f.write(str(kb))


# --- watchdog ---------------------------------------------------------------

class Watchdog:
    """If a step overruns its deadline, kills the given pids (a FUSE daemon
    that dies fails every blocked request with ENOTCONN, which unblocks the
    harness) and any reader processes registered meanwhile."""

    def __init__(self, what, seconds, pids_fn, log):
        self.what, self.seconds, self.pids_fn, self.log = what, seconds, pids_fn, log
        self.fired = False
        self.timer = None

    def _fire(self):
        self.fired = True
        self.log("watchdog: %s exceeded %ds, killing %s" % (
            self.what, self.seconds, self.pids_fn()))
        for pid in self.pids_fn():
            try:
                os.kill(pid, 9)
            except OSError:
                pass

    def __enter__(self):
        self.timer = threading.Timer(self.seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        return False


def is_mounted(path):
    """True if path is a mount point, even of a dead FUSE daemon (where
    os.path.ismount fails with ENOTCONN and says False)."""
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        for line in f:
            mp = line.split()[1].replace("\\040", " ")
            if mp == path:
                return True
    return False


def fusermount_u(path, lazy=False):
    args = ["fusermount3", "-u"] + (["-z"] if lazy else []) + [path]
    try:
        return subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


# --- a minimal FUSE file system: the ceiling any FUSE daemon reaches here ----

FUSEMIN_C = r"""
/* bench-fusemin: one read-only file "data" served from a local file with
 * pread into a static 1 MiB buffer, single-threaded low-level loop. The
 * FUSE-only ceiling for scripts/bench (no HTTP). argv: SRC MNT [direct] */
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int src_fd, direct;
static off_t src_size;
static char buf[1 << 20];

static void fill(struct stat *st, fuse_ino_t ino)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == 1) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = src_size;
		st->st_blksize = 1 << 20;
		st->st_blocks = (src_size + 511) / 512;
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	if (parent != 1 || strcmp(name, "data") != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = 2;
	e.attr_timeout = e.entry_timeout = 3600;
	fill(&e.attr, 2);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	fill(&st, ino);
	fuse_reply_attr(req, &st, 3600);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != 2) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = direct;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	ssize_t n;

	(void)ino;
	(void)fi;
	if (size > sizeof(buf))
		size = sizeof(buf);
	n = pread(src_fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, n);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	(void)size;
	(void)off;
	(void)fi;
	fuse_reply_buf(req, NULL, 0);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
	.readdir = op_readdir,
};

int main(int argc, char **argv)
{
	char *fargv[] = { argv[0], NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, fargv);
	struct fuse_session *se;
	struct stat st;
	int rc;

	if (argc < 3)
		return 2;
	direct = argc > 3 && strcmp(argv[3], "direct") == 0;
	src_fd = open(argv[1], O_RDONLY);
	if (src_fd < 0 || fstat(src_fd, &st) != 0)
		return 1;
	src_size = st.st_size;
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0 ||
	    fuse_session_mount(se, argv[2]) != 0)
		return 1;
	rc = fuse_session_loop(se);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	return rc ? 1 : 0;
}
"""


def build_fusemin(outdir):
    """Compiles FUSEMIN_C into outdir; returns the binary or None."""
    src = os.path.join(outdir, "bench-fusemin.c")
    binary = os.path.join(outdir, "bench-fusemin")
    with open(src, "w") as f:
        f.write(FUSEMIN_C)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fuse3"],
                           stdout=subprocess.PIPE, text=True).stdout.split()
    r = subprocess.run(["cc", "-O2", "-Wall", "-DFUSE_USE_VERSION=312", "-o", binary, src]
                       + flags, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120)
    return binary if r.returncode == 0 else None
