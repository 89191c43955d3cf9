/* unit: the main() every unit test shares. */
#ifndef PITCHEY_TESTS_UNIT_H
#define PITCHEY_TESTS_UNIT_H

#include <check.h>
#include <stdlib.h>

#define UNIT_MAIN(make_suite)                                                   \
    int main(void)                                                              \
    {                                                                           \
        SRunner *sr = srunner_create(make_suite());                             \
        srunner_run_all(sr, CK_ENV);                                            \
        int failed = srunner_ntests_failed(sr);                                 \
        srunner_free(sr);                                                       \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                            \
    }

#endif
