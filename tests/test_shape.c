#include "testutil.h"
Suite *suite_shape(void)
{
    return suite_create("shape");
}
