// SPDX-License-Identifier: MIT
/*
 * layout: prints the C layouts Graft mirrors, one line each:
 *   struct <name> <sizeof>
 *   field <struct> <member> <offsetof> <sizeof>   (in declaration order)
 *   define <name> <value>
 */
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/user.h>

#include <graft.h>

#define STRUCT(s) printf("struct " #s " %zu\n", sizeof(struct s))
#define FIELD(s, m)                                                  \
	printf("field " #s " " #m " %zu %zu\n", offsetof(struct s, m), \
	       sizeof(((struct s *)0)->m))

int main(void)
{
	STRUCT(user_regs_struct);
	FIELD(user_regs_struct, r15);
	FIELD(user_regs_struct, r14);
	FIELD(user_regs_struct, r13);
	FIELD(user_regs_struct, r12);
	FIELD(user_regs_struct, rbp);
	FIELD(user_regs_struct, rbx);
	FIELD(user_regs_struct, r11);
	FIELD(user_regs_struct, r10);
	FIELD(user_regs_struct, r9);
	FIELD(user_regs_struct, r8);
	FIELD(user_regs_struct, rax);
	FIELD(user_regs_struct, rcx);
	FIELD(user_regs_struct, rdx);
	FIELD(user_regs_struct, rsi);
	FIELD(user_regs_struct, rdi);
	FIELD(user_regs_struct, orig_rax);
	FIELD(user_regs_struct, rip);
	FIELD(user_regs_struct, cs);
	FIELD(user_regs_struct, eflags);
	FIELD(user_regs_struct, rsp);
	FIELD(user_regs_struct, ss);
	FIELD(user_regs_struct, fs_base);
	FIELD(user_regs_struct, gs_base);
	FIELD(user_regs_struct, ds);
	FIELD(user_regs_struct, es);
	FIELD(user_regs_struct, fs);
	FIELD(user_regs_struct, gs);

	STRUCT(iovec);
	FIELD(iovec, iov_base);
	FIELD(iovec, iov_len);

	STRUCT(winsize);
	FIELD(winsize, ws_row);
	FIELD(winsize, ws_col);
	FIELD(winsize, ws_xpixel);
	FIELD(winsize, ws_ypixel);

	STRUCT(pollfd);
	FIELD(pollfd, fd);
	FIELD(pollfd, events);
	FIELD(pollfd, revents);

	STRUCT(graft_patch);
	FIELD(graft_patch, name);
	FIELD(graft_patch, objs);
	FIELD(graft_patch, replace);

	STRUCT(graft_object);
	FIELD(graft_object, name);
	FIELD(graft_object, funcs);
	FIELD(graft_object, build_id);
	FIELD(graft_object, callbacks);

	STRUCT(graft_callbacks);
	FIELD(graft_callbacks, pre_patch);
	FIELD(graft_callbacks, post_patch);
	FIELD(graft_callbacks, pre_unpatch);
	FIELD(graft_callbacks, post_unpatch);

	STRUCT(graft_func);
	FIELD(graft_func, old_name);
	FIELD(graft_func, new_func);
	FIELD(graft_func, old_sympos);

	STRUCT(graft_local_sym);
	FIELD(graft_local_sym, name);
	FIELD(graft_local_sym, object);
	FIELD(graft_local_sym, sympos);

	printf("define GRAFT_ABI_VERSION %u\n", (unsigned int)GRAFT_ABI_VERSION);
	printf("define TIOCGWINSZ %lu\n", (unsigned long)TIOCGWINSZ);
	printf("define POLLOUT %d\n", POLLOUT);
	return 0;
}
