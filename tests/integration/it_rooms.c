#include "pitchey-build.h"
int main(void) { return 0; }
