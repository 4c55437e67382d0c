/*
 * libgraft-hook: the exec hook of graft's host-wide patch list.  graftd lists
 * this library in /etc/ld.so.preload while patches are enabled host-wide
 * (graft enable), so it is in every dynamic process that starts.  It reads
 * the hook file graftd keeps (the build-ids of the objects enabled patches
 * are for, and graftd's hook socket) and asks graftd, through that socket, in
 * two cases:
 *
 *   - at start, before main, when an object the process maps has one of
 *     those build-ids: graftd applies the enabled patches it runs the code of;
 *   - at a dlopen (or dlmopen), when the file lists a library's build-id
 *     that the process does not map yet: the call may load it.  graftd
 *     applies the patches for libraries, pending for those not loaded, and
 *     holds the process for its loader, which patches the library when it
 *     is mapped, before its constructors run.  The process asks once for
 *     each version of the hook file.
 *
 * The hook sends one byte, the case ('s' or 'l'); graftd tells who asks from
 * the socket's peer credentials, so a process can only ask for itself.  It
 * waits, at most HOOK_WAIT_MS, for graftd's answer.
 *
 * Whatever goes wrong (no hook file, no graftd, a graftd that was killed or
 * hangs), the process runs on unpatched, errno as it was.  A process that
 * maps no patched object pays, at start, one read of the hook file and a walk
 * of its program headers in memory, and at each dlopen one stat of the file.
 *
 * Only calls that are safe in a constructor that runs before the program is
 * set up, and in any thread: open/read/mmap/close, socket calls, poll; no
 * malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HOOK_FILE "/run/graft/exec-hook"
#define HOOK_FILE_MAGIC "graft-hook 2\n"
#define HOOK_WAIT_MS 10000
#define HOOK_FILE_MAX 65536
#define NT_GNU_BUILD_ID_TYPE 3
#define LOADABLE " loadable"

/*
 * The hook file: "graft-hook 2", "socket PATH", then one build-id (lower-case
 * hex) a line, followed by " loadable" when it is a library's: an object a
 * process can dlopen after it started.
 */
struct hook_file {
	const char *text;
	size_t length;
};

static const char *hook_file_path(void)
{
	/* Tests point the hook at a graftd of their own; a setuid program
	 * ignores the variable (secure_getenv), as it must. */
	const char *path = secure_getenv("GRAFT_HOOK_FILE");
	return path && *path ? path : HOOK_FILE;
}

/* Maps the hook file (graftd replaces it by a rename, so the mapping stays whole); 0 if it has none of ours. */
static int map_hook_file(struct hook_file *file)
{
	int fd = open(hook_file_path(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat status;
	void *text = MAP_FAILED;
	if (fstat(fd, &status) == 0 && status.st_size > 0 && status.st_size <= HOOK_FILE_MAX)
		text = mmap(NULL, (size_t)status.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (text == MAP_FAILED)
		return 0;
	file->text = text;
	file->length = (size_t)status.st_size;
	if (file->length < strlen(HOOK_FILE_MAGIC) || memcmp(text, HOOK_FILE_MAGIC, strlen(HOOK_FILE_MAGIC)) != 0) {
		munmap(text, file->length);
		return 0;
	}
	return 1;
}

static void unmap_hook_file(const struct hook_file *file)
{
	munmap((void *)file->text, file->length);
}

/* The line after `line` (which starts inside the file), or NULL at the end. */
static const char *next_line(const struct hook_file *file, const char *line)
{
	const char *end = memchr(line, '\n', (size_t)(file->text + file->length - line));
	return end && end + 1 < file->text + file->length ? end + 1 : NULL;
}

static size_t line_length(const struct hook_file *file, const char *line)
{
	const char *end = memchr(line, '\n', (size_t)(file->text + file->length - line));
	return (size_t)((end ? end : file->text + file->length) - line);
}

/* Whether the file lists the build-id `hex` (a library's or not). */
static int listed(const struct hook_file *file, const char *hex)
{
	size_t n = strlen(hex);
	for (const char *line = file->text; line; line = next_line(file, line)) {
		size_t length = line_length(file, line);
		if (length < n || memcmp(line, hex, n) != 0)
			continue;
		if (length == n)
			return 1;
		if (length == n + strlen(LOADABLE) && memcmp(line + n, LOADABLE, strlen(LOADABLE)) == 0)
			return 1;
	}
	return 0;
}

/* The object's GNU build-id note, read in memory, as lower-case hex; 0 if it has none. */
static int build_id_of(const struct dl_phdr_info *info, char hex[129])
{
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
				for (unsigned j = 0; j < header->n_descsz; j++) {
					hex[2 * j] = digits[desc[j] >> 4];
					hex[2 * j + 1] = digits[desc[j] & 15];
				}
				hex[2 * header->n_descsz] = '\0';
				return 1;
			}
			note = next;
		}
	}
	return 0;
}

/* dl_iterate_phdr callback: 1 (stop) when the object's build-id is one the hook file lists. */
static int object_listed(struct dl_phdr_info *info, size_t size, void *file)
{
	(void)size;
	char hex[129];
	return build_id_of(info, hex) && listed(file, hex);
}

/* dl_iterate_phdr callback: 1 (stop) when the object's build-id is `wanted` (hex, ended by '\n' or ' '). */
static int object_is(struct dl_phdr_info *info, size_t size, void *wanted)
{
	(void)size;
	char hex[129];
	if (!build_id_of(info, hex))
		return 0;
	size_t n = strlen(hex);
	return strncmp(hex, wanted, n) == 0 && ((const char *)wanted)[n] == ' ';
}

/* Whether the file lists a library's build-id that no object of this process has. */
static int lists_unmapped_library(const struct hook_file *file)
{
	for (const char *line = file->text; line; line = next_line(file, line)) {
		size_t length = line_length(file, line);
		if (length > strlen(LOADABLE) && length <= 128 + strlen(LOADABLE)
		    && memcmp(line + length - strlen(LOADABLE), LOADABLE, strlen(LOADABLE)) == 0
		    && dl_iterate_phdr(object_is, (void *)line) == 0)
			return 1;
	}
	return 0;
}

/* Copies the socket the hook file names into `path`; 0 if it names none that fits. */
static int hook_socket(const struct hook_file *file, char path[108])
{
	static const char key[] = "socket ";
	for (const char *line = file->text; line; line = next_line(file, line)) {
		size_t length = line_length(file, line);
		if (length > strlen(key) && length - strlen(key) < 108 && memcmp(line, key, strlen(key)) == 0) {
			memcpy(path, line + strlen(key), length - strlen(key));
			path[length - strlen(key)] = '\0';
			return 1;
		}
	}
	return 0;
}

static long now_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1000L + now.tv_nsec / 1000000L;
}

/*
 * Asks graftd (`request`: 's' at start, 'l' before a load) and waits for its
 * answer, or for graftd to close the connection, at most HOOK_WAIT_MS in all.
 * graftd stops this thread while it waits here and runs calls on it, which
 * can end the poll early (its restart is not the poll's any more): only an
 * answer, the connection's end, or the deadline ends the wait.  Non-blocking
 * connect: a graftd that no longer accepts (its backlog full) is not waited
 * for either.
 */
static void ask_graftd(const char *path, char request)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof address.sun_path)
		return;
	strcpy(address.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0 && send(fd, &request, 1, MSG_NOSIGNAL) == 1) {
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

/* ---- At start ---- */

typedef int (*main_function)(int, char **, char **);
typedef int (*start_function)(main_function, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);

/* Set by the constructor when graftd is to be asked at start: its hook socket. */
static char start_socket[108];
static main_function program_main;

/* Runs instead of main when graftd is to be asked, then hands over to main (a tail call). */
static int hooked_main(int argc, char **argv, char **envp)
{
	int saved = errno;
	ask_graftd(start_socket, 's');
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
	if (start_socket[0]) {
		program_main = main;
		main = hooked_main;
	}
	return next(main, argc, argv, init, fini, rtld_fini, stack_end);
}

/* ---- Before a load ---- */

static void *libc_dlopen;
static void *libc_dlmopen;

/*
 * The hook file's version (inode, change time, size) this process last
 * checked at a dlopen, with the pid: a forked child has not asked yet.  A
 * race between two threads costs at most one more question to graftd.
 */
static unsigned long checked_version;

static unsigned long version_of(const struct stat *file)
{
	return ((unsigned long)getpid() * 1000003UL) ^ ((unsigned long)file->st_ino * 2654435761UL)
	       ^ ((unsigned long)file->st_ctim.tv_sec << 20) ^ (unsigned long)file->st_ctim.tv_nsec ^ ((unsigned long)file->st_size << 40);
}

/*
 * Runs before each dlopen/dlmopen of the program, on its thread, with no
 * lock held.  When the hook file changed since this process last looked and
 * lists a library this process does not map, asks graftd before the call can
 * load it.
 */
static void check_before_load(void)
{
	int saved = errno;
	struct stat status;
	if (stat(hook_file_path(), &status) == 0) {
		unsigned long version = version_of(&status);
		if (__atomic_load_n(&checked_version, __ATOMIC_RELAXED) != version) {
			struct hook_file file;
			char socket_path[108];
			if (map_hook_file(&file)) {
				if (lists_unmapped_library(&file) && hook_socket(&file, socket_path))
					ask_graftd(socket_path, 'l');
				unmap_hook_file(&file);
			}
			__atomic_store_n(&checked_version, version, __ATOMIC_RELAXED);
		}
	}
	errno = saved;
}

/* Called by the dlopen below: the check, then libc's dlopen, to jump to. */
__attribute__((visibility("hidden"))) void *graft_hook_before_dlopen(void)
{
	check_before_load();
	if (!libc_dlopen)
		libc_dlopen = dlsym(RTLD_NEXT, "dlopen");
	return libc_dlopen;
}

__attribute__((visibility("hidden"))) void *graft_hook_before_dlmopen(void)
{
	check_before_load();
	if (!libc_dlmopen)
		libc_dlmopen = dlsym(RTLD_NEXT, "dlmopen");
	return libc_dlmopen;
}

/*
 * dlopen and dlmopen of the program: the check, then a jump (not a call) to
 * libc's.  glibc's dlopen takes its caller from its return address (the
 * caller's RUNPATH, $ORIGIN and namespace decide what it loads); after the
 * jump, that is still the program's call site.  A C wrapper calling libc's
 * would put the hook there.  The argument registers are saved across the
 * check (three pushes: the stack is 16-byte aligned at the call, and dlmopen
 * has three arguments); the CFI describes every push, so that graft can
 * unwind this thread while it waits for graftd here.
 */
#define HOOKED_LOAD(name, before)                   \
	".text\n"                                   \
	".globl " name "\n"                         \
	".type " name ", @function\n"               \
	name ":\n"                                  \
	".cfi_startproc\n"                          \
	"	endbr64\n"                             \
	"	push %rdi\n"                           \
	".cfi_adjust_cfa_offset 8\n"                \
	"	push %rsi\n"                           \
	".cfi_adjust_cfa_offset 8\n"                \
	"	push %rdx\n"                           \
	".cfi_adjust_cfa_offset 8\n"                \
	"	call " before "\n"                     \
	"	pop %rdx\n"                            \
	".cfi_adjust_cfa_offset -8\n"               \
	"	pop %rsi\n"                            \
	".cfi_adjust_cfa_offset -8\n"               \
	"	pop %rdi\n"                            \
	".cfi_adjust_cfa_offset -8\n"               \
	"	jmp *%rax\n"                           \
	".cfi_endproc\n"                            \
	".size " name ", .-" name "\n"

__asm__(HOOKED_LOAD("dlopen", "graft_hook_before_dlopen") HOOKED_LOAD("dlmopen", "graft_hook_before_dlmopen"));

/* Decides, before any of the program's code needs it, whether graftd is to be asked at start. */
__attribute__((constructor)) static void graft_hook(void)
{
	int saved = errno;
	struct hook_file file;
	if (map_hook_file(&file)) {
		if (dl_iterate_phdr(object_listed, &file) == 1)
			hook_socket(&file, start_socket);
		unmap_hook_file(&file);
	}
	errno = saved;
}
