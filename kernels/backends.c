#include "kernels/backends.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static dr_status dr_parse_device(const char *device, const char **name_end, int *index)
{
    *index = 0;
    const char *colon = strchr(device, ':');
    *name_end = colon ? colon : device + strlen(device);
    if (!colon)
        return DR_OK;
    char *end;
    long i = strtol(colon + 1, &end, 10);
    if (isdigit((unsigned char)colon[1]) && *end == '\0' && i < 1024) {
        *index = (int)i;
        return DR_OK;
    }
    return dr_error(DR_ERR_INVALID, "device '%s': expected \"cpu\", \"cuda\" or \"cuda:N\"", device);
}

dr_status dr_backend_create(dr_backend **out, const char *device)
{
    *out = NULL;
    const char *name_end;
    int index;
    DR_TRY(dr_parse_device(device, &name_end, &index));
    size_t len = (size_t)(name_end - device);
    char names[128] = "";
    for (const dr_backend_iface *const *b = dr_backends; *b; b++) {
        if (strlen((*b)->name) == len && strncmp((*b)->name, device, len) == 0)
            return dr_backend_open(out, *b, index);
        strncat(names, b == dr_backends ? "\"" : ", \"", sizeof names - strlen(names) - 1);
        strncat(names, (*b)->name, sizeof names - strlen(names) - 1);
        strncat(names, "\"", sizeof names - strlen(names) - 1);
    }
    if (len == 4 && strncmp(device, "cuda", 4) == 0)
        return dr_error(DR_ERR_DEVICE, "device '%s': this build has no CUDA backend (nvcc was not found when "
                        "it was configured); use device = \"cpu\"", device);
    return dr_error(DR_ERR_INVALID, "device '%s': expected \"cpu\", \"cuda\" or \"cuda:N\" (this build has %s)",
                    device, names);
}
