/*
 * sys/sighost.h: the umbrella header of the host side. The sighost
 * executable, its tests and programs that embed the host include this:
 * the plugin API (../sighost.h) and what only a host calls (loading a
 * project, running migrations, the router and the server). A plugin
 * includes ../sighost.h and nothing of sys/.
 */
#ifndef SIGHOST_SYS_SIGHOST_H
#define SIGHOST_SYS_SIGHOST_H

#include "../sighost.h"
#include "project.h"
#include "migrate.h"
#include "web.h"
#include "suggest.h"

#endif
