/*
 * builtins.c: Django's names of the built-in signals and m2m actions.
 */
#include <sighost/builtins.h>

static const char *const sh__builtin_names[SH_BUILTIN_COUNT] = {
	[SH_PRE_INIT] = "pre_init",
	[SH_POST_INIT] = "post_init",
	[SH_PRE_SAVE] = "pre_save",
	[SH_POST_SAVE] = "post_save",
	[SH_PRE_DELETE] = "pre_delete",
	[SH_POST_DELETE] = "post_delete",
	[SH_M2M_CHANGED] = "m2m_changed",
	[SH_CLASS_PREPARED] = "class_prepared",
	[SH_PRE_MIGRATE] = "pre_migrate",
	[SH_POST_MIGRATE] = "post_migrate",
	[SH_REQUEST_STARTED] = "request_started",
	[SH_REQUEST_FINISHED] = "request_finished",
	[SH_GOT_REQUEST_EXCEPTION] = "got_request_exception",
	[SH_SETTING_CHANGED] = "setting_changed",
	[SH_TEMPLATE_RENDERED] = "template_rendered",
	[SH_CONNECTION_CREATED] = "connection_created",
};

const char *sh_builtin_name(sh_builtin id)
{
	if ((unsigned)id >= SH_BUILTIN_COUNT)
		return NULL;
	return sh__builtin_names[id];
}

const char *sh_m2m_action_name(sh_m2m_action action)
{
	static const char *const names[] = {
		[SH_M2M_PRE_ADD] = "pre_add",
		[SH_M2M_POST_ADD] = "post_add",
		[SH_M2M_PRE_REMOVE] = "pre_remove",
		[SH_M2M_POST_REMOVE] = "post_remove",
		[SH_M2M_PRE_CLEAR] = "pre_clear",
		[SH_M2M_POST_CLEAR] = "post_clear",
	};
	if ((unsigned)action >= sizeof names / sizeof names[0])
		return NULL;
	return names[action];
}
