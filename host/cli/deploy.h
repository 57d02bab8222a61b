/*
 * deploy.h: the deploy checks of `sighost check --deploy` (deploy.c).
 */
#ifndef SH_CLI_DEPLOY_H
#define SH_CLI_DEPLOY_H

#include <sighost/sys/sighost.h>
#include <sighost/sys/web.h>

/* Prints one "warning: (deploy) ..." line to stderr per setting unsafe in
 * production of the loaded project and its routes (router may be NULL).
 * Returns how many. */
size_t sh_cli_deploy_check(sh_project *project, const sh_router *router);

#endif
