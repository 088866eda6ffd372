/*
 * null.c: a beanstalkd-protocol server that stores nothing. It answers as
 * bench/null/answer does (use, watch, ignore; put with INSERTED, dropping
 * the body; reserve with a 64-byte job, as if the tube were never empty;
 * delete with DELETED; anything else UNKNOWN_COMMAND), from one epoll loop
 * in one thread —
 * beanstalkd's own design minus all of its work. bench/ceiling uses it as
 * the fastest server any design can be on this machine.
 *
 * Usage: null PORT   (listens on 127.0.0.1:PORT)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUFSIZE = 65536 };

struct conn {
	int fd;
	int n;             /* bytes buffered in buf */
	long skip;         /* body bytes still to drop */
	unsigned long id;  /* last id answered */
	char buf[BUFSIZE];
	char out[BUFSIZE];
};

/* answer runs every complete command in c->buf and writes the replies at once. */
static int answer(struct conn *c) {
	int pos = 0, on = 0;
	for (;;) {
		if (c->skip > 0) {
			long k = c->n - pos < c->skip ? c->n - pos : c->skip;
			pos += k;
			c->skip -= k;
			if (c->skip > 0) break;
		}
		char *nl = memchr(c->buf + pos, '\n', c->n - pos);
		if (!nl) break;
		char *line = c->buf + pos;
		int len = nl - line + 1;
		pos += len;
		if (on > BUFSIZE - 256) break;
		if (!strncmp(line, "put ", 4)) {
			unsigned pri, delay, ttr;
			long bytes;
			if (sscanf(line + 4, "%u %u %u %ld", &pri, &delay, &ttr, &bytes) != 4 || bytes < 0) {
				on += sprintf(c->out + on, "BAD_FORMAT\r\n");
				continue;
			}
			c->skip = bytes + 2;
			on += sprintf(c->out + on, "INSERTED %lu\r\n", ++c->id);
		} else if (!strncmp(line, "use ", 4) && len > 6 && len < 210) {
			on += sprintf(c->out + on, "USING %.*s\r\n", len - 6, line + 4);
		} else if (!strncmp(line, "watch ", 6)) {
			on += sprintf(c->out + on, "WATCHING 2\r\n");
		} else if (!strncmp(line, "ignore ", 7)) {
			on += sprintf(c->out + on, "WATCHING 1\r\n");
		} else if (!strncmp(line, "reserve", 7)) {
			on += sprintf(c->out + on, "RESERVED %lu 64\r\n%064d\r\n", ++c->id, 0);
		} else if (!strncmp(line, "delete ", 7)) {
			on += sprintf(c->out + on, "DELETED\r\n");
		} else {
			on += sprintf(c->out + on, "UNKNOWN_COMMAND\r\n");
		}
	}
	memmove(c->buf, c->buf + pos, c->n - pos);
	c->n -= pos;
	if (c->n == BUFSIZE) return -1; /* a line longer than the buffer */
	return on == 0 || write(c->fd, c->out, on) == on ? 0 : -1;
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: null PORT\n");
		return 2;
	}
	int one = 1;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) {
		perror("null: listen");
		return 1;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	struct epoll_event evs[64];
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
				if (fd < 0) continue;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				c = calloc(1, sizeof *c);
				c->fd = fd;
				struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				continue;
			}
			int r = read(c->fd, c->buf + c->n, BUFSIZE - c->n);
			if (r < 0 && errno == EAGAIN) continue;
			if (r <= 0 || (c->n += r, answer(c) < 0)) {
				close(c->fd);
				free(c);
			}
		}
	}
}
