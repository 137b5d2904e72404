/* trigger.c: pivotcheck's crash trigger, preloaded into libvirtd (LD_PRELOAD).
 *
 * It watches libvirtd's QMP monitor traffic (plain read/write on a unix socket whose peer
 * path ends in "monitor.sock"; sendmsg/recvmsg when fds are passed), logs every message,
 * and SIGKILLs libvirtd at one exact point of an armed operation:
 *
 *   before  the k-th QMP command sent while armed: killed instead of writing it;
 *   reply   the k-th QMP command goes out, and libvirtd is killed as soon as QEMU's reply
 *           to it ("id": "libvirt-N") is read, before libvirtd parses it;
 *   pause   as reply, but libvirtd stops itself (SIGSTOP) instead of dying, and goes on
 *           parsing the reply when the harness sends SIGCONT.
 *
 * The harness arms it by writing "<k> <before|reply|pause>" to the file named by PVL_ARM
 * (k = 0: count and log, never kill) and disarms it by removing that file, so one
 * libvirtd incarnation can serve several scenarios. PVL_LOG names the message log:
 * "<monotonic s> <dir> <message>" per line, dir '>' (sent), '<' (read), '!' (trigger).
 * Commands sent while armed are logged with their ordinal: "> #3 {...}".
 *
 * Only libvirtd itself is instrumented: wrappers (sh, env) pass LD_PRELOAD on, and libvirtd
 * drops it so that QEMU and its helpers run clean. Forked children never trigger.
 * Real functions are resolved lazily: other constructors call read()/write() first.
 * Built by the harness from this source: cc -shared -fPIC -O2 -o trigger.so trigger.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_read)(int, void *, size_t);
static ssize_t (*r_send)(int, const void *, size_t, int);
static ssize_t (*r_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*r_recvmsg)(int, struct msghdr *, int);

static int active;           /* this process is libvirtd */
static pid_t self;
static const char *log_path, *arm_path;
static long sent;            /* commands sent while armed, this arming */
static long arm_stamp = -1;  /* mtime (ns) of the arm file we last read */
static long arm_k;
static int arm_reply;        /* 0: before, 1: reply */
static int arm_pause;        /* reply mode, but SIGSTOP instead of SIGKILL ("pause") */
static char reply_id[48];    /* "id": "libvirt-N" awaited in reply mode */

static void resolve(void)
{
    if (r_write)
        return;
    r_read = dlsym(RTLD_NEXT, "read");
    r_send = dlsym(RTLD_NEXT, "send");
    r_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
    r_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
    r_write = dlsym(RTLD_NEXT, "write");
}

__attribute__((constructor)) static void init(void)
{
    resolve();
    if (strcmp(program_invocation_short_name, "libvirtd") != 0)
        return;
    active = 1;
    self = getpid();
    log_path = getenv("PVL_LOG");
    arm_path = getenv("PVL_ARM");
    unsetenv("LD_PRELOAD");
}

static int monitor_fd(int fd)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX)
        return 0;
    size_t n = strnlen(sa.sun_path, sizeof(sa.sun_path));
    return n >= 12 && memcmp(sa.sun_path + n - 12, "monitor.sock", 12) == 0;
}

static void logline(char dir, long ordinal, const char *buf, size_t n)
{
    if (!log_path)
        return;
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[8192];
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int h = ordinal > 0
                ? snprintf(line, sizeof(line), "%ld.%03ld %c #%ld ", (long)ts.tv_sec,
                           ts.tv_nsec / 1000000, dir, ordinal)
                : snprintf(line, sizeof(line), "%ld.%03ld %c ", (long)ts.tv_sec,
                           ts.tv_nsec / 1000000, dir);
    size_t k = h;
    for (size_t i = 0; i < n && k < sizeof(line) - 1; i++)
        line[k++] = (buf[i] == '\n' || buf[i] == '\r') ? ' ' : buf[i];
    line[k++] = '\n';
    r_write(fd, line, k);
    close(fd);
}

/* Re-read the arm file when it changed; returns 1 while armed. */
static int armed(void)
{
    struct stat st;
    if (!arm_path || stat(arm_path, &st) != 0) {
        arm_stamp = -1;
        sent = 0;
        reply_id[0] = 0;
        return 0;
    }
    long stamp = (long)st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec + st.st_ino;
    if (stamp != arm_stamp) {
        char buf[64] = {0};
        int fd = open(arm_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return 0;
        ssize_t n = r_read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            return 0;
        arm_k = atol(buf);
        arm_pause = strstr(buf, "pause") != NULL;
        arm_reply = strstr(buf, "reply") != NULL || arm_pause;
        arm_stamp = stamp;
        sent = 0;
        reply_id[0] = 0;
    }
    return 1;
}

static void die(const char *why)
{
    logline('!', 0, why, strlen(why));
    kill(self, SIGKILL);
    for (;;)
        pause();
}

/* An outgoing monitor message: count, log, maybe kill or remember the reply id. */
static void outgoing(int fd, const char *buf, size_t n)
{
    if (!active || getpid() != self || n < 10 || buf[0] != '{' ||
        !memmem(buf, n, "\"execute\"", 9) || !monitor_fd(fd))
        return;
    long ordinal = 0;
    if (armed())
        ordinal = ++sent;
    logline('>', ordinal, buf, n);
    if (ordinal == 0 || ordinal != arm_k)
        return;
    if (!arm_reply)
        die("kill before send");
    /* libvirt puts its id last: ...,"id":"libvirt-N"} */
    static const char key[] = "\"id\":\"libvirt-";
    const char *p = NULL, *q = buf;
    while ((q = memmem(q, n - (size_t)(q - buf), key, sizeof(key) - 1)))
        p = q++;
    if (!p)
        die("kill before send (no id to wait for)");
    const char *v = p + 6, *e = memchr(v, '"', n - (size_t)(v - buf));
    if (!e)
        die("kill before send (no id to wait for)");
    snprintf(reply_id, sizeof(reply_id), "\"id\": \"%.*s\"", (int)(e - v), v);
}

/* The end of the previous monitor read: a reply id may straddle two reads. */
static char tail[64];
static size_t tail_len;

static void incoming(int fd, const char *buf, size_t n)
{
    if (!active || getpid() != self || n == 0 || !monitor_fd(fd))
        return;
    logline('<', 0, buf, n);
    if (reply_id[0]) {
        size_t want = strlen(reply_id);
        char joined[sizeof(tail) * 2];
        size_t head = n < sizeof(tail) ? n : sizeof(tail);
        memcpy(joined, tail, tail_len);
        memcpy(joined + tail_len, buf, head);
        if (memmem(buf, n, reply_id, want) || memmem(joined, tail_len + head, reply_id, want)) {
            if (!arm_pause)
                die("kill on reply");
            /* Pause: libvirtd stops with the reply read and unparsed; the harness acts on
             * QEMU and the guest meanwhile and sends SIGCONT. */
            reply_id[0] = 0;
            logline('!', 0, "stop on reply", 13);
            kill(self, SIGSTOP);
        }
    }
    size_t keep = n < sizeof(tail) ? n : sizeof(tail);
    memcpy(tail, buf + n - keep, keep);
    tail_len = keep;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    resolve();
    if (fd > 2)
        outgoing(fd, buf, n);
    return r_write(fd, buf, n);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    resolve();
    outgoing(fd, buf, n);
    return r_send(fd, buf, n, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    resolve();
    if (msg->msg_iovlen >= 1)
        outgoing(fd, msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len);
    return r_sendmsg(fd, msg, flags);
}

ssize_t read(int fd, void *buf, size_t n)
{
    resolve();
    ssize_t r = r_read(fd, buf, n);
    int saved = errno;
    if (r > 0 && fd > 2)
        incoming(fd, buf, (size_t)r);
    errno = saved;
    return r;
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    resolve();
    ssize_t r = r_recvmsg(fd, msg, flags);
    int saved = errno;
    if (r > 0 && msg->msg_iovlen >= 1) {
        size_t k = (size_t)r < msg->msg_iov[0].iov_len ? (size_t)r : msg->msg_iov[0].iov_len;
        incoming(fd, msg->msg_iov[0].iov_base, k);
    }
    errno = saved;
    return r;
}
