/* stub */
#include "testutil.h"
Suite *suite_bn(void)
{
    return suite_create("bn");
}
