/* cpw_hello.h — internal: hello's members, shared by the hello message and
 * the get_state result (PROTOCOL.md §7, §11). */
#ifndef CPW_HELLO_H
#define CPW_HELLO_H

#include "cpw.h"

/* Appends ,"name":…,"pid":…,"start_ts_us":…,"agent_version":…,"instance":…,
 * "operators":[…],"edges":[…],"config":{…}[,"failures":[…]] — each member
 * preceded by a comma. */
void cpw_hello_write_members(cpw_buf *b, const cpw_hello *h);

/* Reads those members of a hello-shaped jansson object (void * keeps
 * jansson out of this header) into h: name required, pid optional (a
 * hello message checks its own requirements first), the rest as
 * PROTOCOL.md §7 says. */
cpw_err cpw_hello_read_members(const void *json_obj, cpw_hello *h, cpw_error *err);

#endif
