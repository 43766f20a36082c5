/* pool.h */
#ifndef X_pool
#define X_pool
#endif
