/*
 * version.c: the library's version and ABI version, for the host and for
 * plugins that want to check them at run time.
 */
#include <sighost/common.h>

const char *sh_version(void)
{
	return SH_VERSION;
}

int sh_abi_version(void)
{
	return SH_ABI_MAJOR;
}

int sh_abi_minor(void)
{
	return SH_ABI_MINOR;
}
