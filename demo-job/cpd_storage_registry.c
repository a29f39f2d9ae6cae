/* cpd_storage_registry.c — the checkpoint storage's backends, the one place
 * that names them: the generic layer (cpd_storage.c) reads this table and
 * never calls a backend by name, and no backend knows the generic layer. */
#include "cpd_storage_backend.h"

const cpd_storage_backend *const cpd_storage_backends[] = {
    &cpd_storage_file_backend,  /* file:///abs/path, or a plain path */
    &cpd_storage_s3_backend,    /* s3://bucket/prefix */
    NULL,
};
