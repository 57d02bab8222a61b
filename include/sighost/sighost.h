/*
 * sighost.h: the umbrella header. A plugin includes this and nothing else.
 */
#ifndef SIGHOST_SIGHOST_H
#define SIGHOST_SIGHOST_H

#include "common.h"
#include "datum.h"
#include "error.h"
#include "builtins.h"
#include "signal.h"
#include "receiver.h"
#include "pool.h"
#include "settings.h"
#include "app.h"
#include "model.h"
#include "db.h"
#include "instance.h"
#include "query.h"
#include "migrate.h"
#include "template.h"
#include "web.h"

#endif
