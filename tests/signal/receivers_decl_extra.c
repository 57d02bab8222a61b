/*
 * receivers_decl_extra.c: a second source file of the receivers-decl test
 * executable, linked before receivers_decl.c. Its declaration must still be
 * connected after that file's ones: files go in the order of their names,
 * not the linker's.
 */
#include <sighost/receiver.h>

SH_RECEIVER(on_cross_file_extra, "alert.cross_file", NULL)
{
	return 0;
}
