/* pgweir: the Prometheus /metrics endpoint. */
#ifndef PGWEIR_METRICS_H
#define PGWEIR_METRICS_H

struct pgweir;
struct evbuffer;

int metrics_listen_early(struct pgweir *pw);
int metrics_start(struct pgweir *pw);
void metrics_stop(struct pgweir *pw);
int metrics_listen_fd(const struct pgweir *pw);
int metrics_render(struct pgweir *pw, struct evbuffer *out);

#endif
