/*
 * t_misspelt.c: a plugin whose receivers can never run, for `sighost
 * check`: one on a misspelt built-in signal ("post_delet"), one from a
 * sender naming no installed model ("notes.Nte"), and one on a custom
 * signal that no app declares ("t.never_declared").
 */
#include <sighost/sighost.h>

SH_PLUGIN_ABI;

SH_RECEIVER(on_deleted, "post_delet", NULL)
{
	return 0;
}

SH_RECEIVER(on_note_saved, "post_save", "notes.Nte")
{
	return 0;
}

SH_RECEIVER(on_never, "t.never_declared", NULL)
{
	return 0;
}

int ready(sh_app *app)
{
	return SH_APP_CONNECT_RECEIVERS(app, NULL);
}
