#include <stdio.h>
#include <zlib.h>

int main(void) {
    printf("hello from scratch, zlib %s\n", zlibVersion());
    return 0;
}
