/* shape.h */
#ifndef X_shape
#define X_shape
#endif
