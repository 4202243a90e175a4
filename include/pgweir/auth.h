/* pgweir: client authentication. */
#ifndef PGWEIR_AUTH_H
#define PGWEIR_AUTH_H

struct client;
struct pgweir;

void auth_register(struct pgweir *pw);

#endif
