/* quick: the small program whose start is measured with its object patched. */
__attribute__((noipa)) int answer(void) { return 42; }
int main(void) { return answer() - 42; }
