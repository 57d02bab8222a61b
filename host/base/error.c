/*
 * error.c: the per-thread error channel (error.h).
 *
 * The message lives in a fixed thread-local buffer, so raising an error
 * never allocates and a thread that exits leaves nothing behind.
 */
#include <stdarg.h>
#include <stdio.h>

#include <sighost/error.h>

#define SH__ERROR_MAX 1024

static _Thread_local char sh__error_text[SH__ERROR_MAX];
static _Thread_local sh_error sh__error;

const sh_error *sh_error_last(void)
{
	sh__error.message = sh__error_text;
	return &sh__error;
}

int sh_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sh__error_text, sizeof sh__error_text, fmt, ap);
	va_end(ap);
	sh__error.code = code;
	return code;
}

void sh_error_clear(void)
{
	sh__error.code = 0;
	sh__error_text[0] = '\0';
}

const char *sh_error_name(int code)
{
	switch (code) {
	case SH_OK: return "SH_OK";
	case SH_ERROR: return "SH_ERROR";
	case SH_ENOMEM: return "SH_ENOMEM";
	case SH_EINVAL: return "SH_EINVAL";
	case SH_ENOTFOUND: return "SH_ENOTFOUND";
	case SH_EEXISTS: return "SH_EEXISTS";
	case SH_EMANIFEST: return "SH_EMANIFEST";
	case SH_ELOAD: return "SH_ELOAD";
	case SH_EABI: return "SH_EABI";
	case SH_EPERM: return "SH_EPERM";
	case SH_EDB: return "SH_EDB";
	case SH_ERECEIVER: return "SH_ERECEIVER";
	case SH_EIO: return "SH_EIO";
	case SH_EPROTECTED: return "SH_EPROTECTED";
	case SH_EINTEGRITY: return "SH_EINTEGRITY";
	case SH_EUNAVAILABLE: return "SH_EUNAVAILABLE";
	case SH_EHTTP404: return "SH_EHTTP404";
	default: return "SH_E(unknown)";
	}
}
