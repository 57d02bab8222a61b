/*
 * describe.c: a readable name for a receiver, for `sighost signals`: the
 * name given at connect, else the symbol dladdr finds at exactly the
 * function's address, else its address inside the library that holds it.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *sh_app__base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int sh_receiver_describe(char *buf, size_t size, const sh_connection_info *info)
{
	if (info->name != NULL && info->name[0] != '\0')
		return snprintf(buf, size, "%s", info->name);
	void *addr;
	memcpy(&addr, &info->receiver, sizeof addr);
	Dl_info dl;
	if (dladdr(addr, &dl) == 0 || dl.dli_fname == NULL)
		return snprintf(buf, size, "%p", addr);
	if (dl.dli_sname != NULL && dl.dli_saddr == addr)
		return snprintf(buf, size, "%s", dl.dli_sname);
	unsigned long offset = (unsigned long)((const char *)addr - (const char *)dl.dli_fbase);
	return snprintf(buf, size, "0x%lx in %s", offset, sh_app__base_name(dl.dli_fname));
}
