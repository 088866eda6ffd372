/*
 * gen.c: the leanest put load generator — CONNS connections at pipeline 1
 * driven from one epoll loop in one thread, 64-byte bodies, for SECONDS.
 * It prints "<ops> ops/s p50 <µs> p99 <µs>": the throughput, and the
 * median and 99th percentile of the time from a put's write to the read
 * of its reply (to the microsecond, up to 100 ms; slower ones count as
 * 100 ms). bench/ceiling runs it next to `reprieve bench` to show how much
 * of a measured ratio is the generator's own cost.
 *
 * Usage: gen PORT CONNS SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

#define MAXUS 100000
static long hist[MAXUS + 1];

/* percentile returns the smallest latency in µs at or below which the
 * fraction q of the ops counted in hist fall. */
static long percentile(long ops, double q) {
	long want = (long)(q * ops), seen = 0;
	for (long us = 0; us <= MAXUS; us++) {
		seen += hist[us];
		if (seen > want) return us;
	}
	return MAXUS;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: gen PORT CONNS SECONDS\n");
		return 2;
	}
	int port = atoi(argv[1]), conns = atoi(argv[2]), one = 1;
	double seconds = atof(argv[3]);
	char put[128], body[65], buf[4096];
	memset(body, 'x', 64);
	body[64] = 0;
	int putlen = sprintf(put, "put 0 0 60 64\r\n%s\r\n", body);
	int ep = epoll_create1(0);
	double *sent = calloc(65536, sizeof *sent); /* by fd: when its put was written */
	for (int i = 0; i < conns; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
			perror("gen: connect");
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (write(fd, "use bench-ceiling\r\n", 19) != 19 || read(fd, buf, sizeof buf) <= 0) {
			perror("gen: use");
			return 1;
		}
		struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
		sent[fd] = now();
		if (write(fd, put, putlen) != putlen) {
			perror("gen: write");
			return 1;
		}
	}
	long ops = 0;
	double start = now(), end = start + seconds;
	struct epoll_event evs[64];
	while (now() < end) {
		int n = epoll_wait(ep, evs, 64, 100);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			int r = read(fd, buf, sizeof buf);
			if (r <= 0) {
				perror("gen: read");
				return 1;
			}
			if (strncmp(buf, "INSERTED ", 9)) {
				fprintf(stderr, "gen: unexpected reply %.*s\n", r, buf);
				return 1;
			}
			ops++;
			double t = now();
			long us = (long)((t - sent[fd]) * 1e6);
			hist[us > MAXUS ? MAXUS : us]++;
			sent[fd] = t;
			if (write(fd, put, putlen) != putlen) {
				perror("gen: write");
				return 1;
			}
		}
	}
	printf("%.0f ops/s p50 %ld p99 %ld\n", ops / (now() - start), percentile(ops, 0.50), percentile(ops, 0.99));
	return 0;
}
