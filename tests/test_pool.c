#include "testutil.h"
Suite *suite_pool(void)
{
    return suite_create("pool");
}
