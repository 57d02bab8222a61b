/*
 * registry_check.h: the one function of the model registry that the rest
 * of the host (host/app) uses beyond the public API: checking the
 * relations of the declared models without preparing them, so that
 * `sighost check --manifests-only` reports unknown targets and clashes
 * without sending class_prepared.
 */
#ifndef SH_DB_REGISTRY_CHECK_H
#define SH_DB_REGISTRY_CHECK_H

#include <sighost/model.h>

/*
 * Runs every check of sh_models_prepare() on the declared models and
 * reports each problem through the registry's reporter, then leaves the
 * registry as it was: nothing is prepared and no signal is sent. Returns
 * 0, the first problem's code, SH_EINVAL for a prepared registry, or
 * SH_ENOMEM.
 */
int sh__models_check(sh_models *models);

#endif
