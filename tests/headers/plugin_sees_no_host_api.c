/* Must NOT compile as it is (tests/headers/meson.build, should_fail): a
 * plugin that includes only <sighost/sighost.h> does not see the host-only
 * API of include/sighost/sys/ (sh_project_new). With -DSH_TEST_SYS it
 * includes <sighost/sys/sighost.h> and must compile: the control that
 * shows the failure is the missing declaration, nothing else. */
#ifdef SH_TEST_SYS
#include <sighost/sys/sighost.h>
#else
#include <sighost/sighost.h>
#endif

int plugin_reaches_for_the_host(void);

int plugin_reaches_for_the_host(void)
{
	sh_project *project;
	return sh_project_new(&project);
}
