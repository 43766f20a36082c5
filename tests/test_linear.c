/* stub */
#include "testutil.h"
Suite *suite_linear(void)
{
    return suite_create("linear");
}
