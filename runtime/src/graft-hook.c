/*
 * libgraft-hook: the exec hook of graft's host-wide patch list.  graftd lists
 * this library in /etc/ld.so.preload while patches are enabled host-wide
 * (graft enable), so its constructor runs in every dynamic process that
 * starts, before main.  It reads the hook file graftd keeps (the build-ids of
 * the objects enabled patches are for, and graftd's hook socket), and only if
 * one of the objects this process maps has one of those build-ids, it
 * connects to graftd and waits, at most HOOK_WAIT_MS, for graftd to attach and
 * apply the enabled patches.  graftd tells who asks from the socket's peer
 * credentials: nothing is sent.
 *
 * Whatever goes wrong (no hook file, no graftd, a graftd that was killed or
 * hangs), the process runs on unpatched: the constructor returns, errno as it
 * found it.  A process that maps no patched object pays one read of the hook
 * file and a walk of its program headers in memory.
 *
 * Only calls that are safe in a constructor that runs before the program is
 * set up: open/read/close, socket calls, poll; no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HOOK_FILE "/run/graft/exec-hook"
#define HOOK_FILE_MAGIC "graft-hook 1\n"
#define HOOK_WAIT_MS 10000
#define HOOK_FILE_MAX 65536
#define NT_GNU_BUILD_ID_TYPE 3

/* The hook file: "graft-hook 1", "socket PATH", then one hex build-id a line. */
static char hook_text[HOOK_FILE_MAX];

static size_t read_hook_file(void)
{
	/* Tests point the hook at a graftd of their own; a setuid program
	 * ignores the variable (secure_getenv), as it must. */
	const char *path = secure_getenv("GRAFT_HOOK_FILE");
	int fd = open(path && *path ? path : HOOK_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t length = 0;
	while (length < sizeof hook_text - 1) {
		ssize_t got = read(fd, hook_text + length, sizeof hook_text - 1 - length);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		length += (size_t)got;
	}
	close(fd);
	hook_text[length] = '\0';
	return strncmp(hook_text, HOOK_FILE_MAGIC, strlen(HOOK_FILE_MAGIC)) == 0 ? length : 0;
}

/* Whether the hook file lists the build-id (lower-case hex) as a line of its own. */
static int listed(const char *hex)
{
	size_t n = strlen(hex);
	for (const char *line = hook_text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, hex, n) == 0 && (line[n] == '\n' || line[n] == '\0'))
			return 1;
	}
	return 0;
}

/* dl_iterate_phdr callback: 1 (stop) when the object's GNU build-id note is listed. */
static int object_listed(struct dl_phdr_info *info, size_t size, void *unused)
{
	(void)size;
	(void)unused;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *note = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = note + ph->p_memsz;
		while (note + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *header = (const ElfW(Nhdr) *)note;
			const char *name = note + sizeof *header;
			const unsigned char *desc = (const unsigned char *)name + ((header->n_namesz + 3) & ~3u);
			const char *next = (const char *)desc + ((header->n_descsz + 3) & ~3u);
			if (next > end)
				break;
			if (header->n_type == NT_GNU_BUILD_ID_TYPE && header->n_namesz == 4 && memcmp(name, "GNU", 4) == 0
			    && header->n_descsz > 0 && header->n_descsz <= 64) {
				static const char digits[] = "0123456789abcdef";
				char hex[129];
				for (unsigned j = 0; j < header->n_descsz; j++) {
					hex[2 * j] = digits[desc[j] >> 4];
					hex[2 * j + 1] = digits[desc[j] & 15];
				}
				hex[2 * header->n_descsz] = '\0';
				if (listed(hex))
					return 1;
			}
			note = next;
		}
	}
	return 0;
}

/* The socket the hook file names, or NULL. */
static const char *hook_socket(void)
{
	char *line = strstr(hook_text, "\nsocket ");
	if (!line)
		return NULL;
	line += strlen("\nsocket ");
	char *end = strchr(line, '\n');
	if (end)
		*end = '\0';
	return line;
}

static long now_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1000L + now.tv_nsec / 1000000L;
}

/*
 * Asks graftd to patch this process and waits for its answer, or for graftd to
 * close the connection, at most HOOK_WAIT_MS in all.  graftd stops this thread
 * while it waits here and runs calls on it, which can end the poll early (its
 * restart is not the poll's any more): only an answer, the connection's end,
 * or the deadline ends the wait.  Non-blocking connect: a graftd that no
 * longer accepts (its backlog full) is not waited for either.
 */
static void ask_graftd(const char *path)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof address.sun_path)
		return;
	strcpy(address.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0) {
		long deadline = now_ms() + HOOK_WAIT_MS;
		for (long left = HOOK_WAIT_MS; left > 0; left = deadline - now_ms()) {
			struct pollfd answer = { .fd = fd, .events = POLLIN };
			char reply[64];
			poll(&answer, 1, (int)left);
			ssize_t got = read(fd, reply, sizeof reply);
			if (got >= 0 || (errno != EAGAIN && errno != EINTR))
				break;
		}
	}
	close(fd);
}

typedef int (*main_function)(int, char **, char **);
typedef int (*start_function)(main_function, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);

/* Set by the constructor when graftd is to be asked: its hook socket. */
static const char *graftd_socket;
static main_function program_main;

/* Runs instead of main when graftd is to be asked, then hands over to main (a tail call). */
static int hooked_main(int argc, char **argv, char **envp)
{
	int saved = errno;
	ask_graftd(graftd_socket);
	errno = saved;
	return program_main(argc, argv, envp);
}

/*
 * The program's _start calls this before main (the hook is preloaded, so it
 * comes before libc's).  graftd is asked from main's place, not from the
 * constructor: there the thread's stack runs through the dynamic linker's
 * start code, which has no unwind information, and graft runs its calls (the
 * patch's dlopen) only on a thread whose stack it can read whole.  Here the
 * stack is what main will have: _start, libc's __libc_start_main.  The call
 * to libc's is a tail call (gcc -O2 makes it one, same arguments), so this
 * function is not on that stack either.
 */
__attribute__((visibility("default"))) int __libc_start_main(main_function main, int argc, char **argv, void (*init)(void),
							       void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
	start_function next = (start_function)dlsym(RTLD_NEXT, "__libc_start_main");
	if (graftd_socket) {
		program_main = main;
		main = hooked_main;
	}
	return next(main, argc, argv, init, fini, rtld_fini, stack_end);
}

/* Decides, before any of the program's code needs it, whether graftd is to be asked. */
__attribute__((constructor)) static void graft_hook(void)
{
	int saved = errno;
	if (read_hook_file() > 0 && dl_iterate_phdr(object_listed, NULL) == 1)
		graftd_socket = hook_socket();
	errno = saved;
}
