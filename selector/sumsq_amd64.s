//go:build amd64 && !purego

#include "textflag.h"

// func sumSquares16(p *int16, blocks int) uint64
//
// PMADDWL (Intel: PMADDWD) multiplies eight pairs of int16 and adds
// adjacent products: with both operands the same register it gives four
// sums x[2i]² + x[2i+1]². Each is at most 2·32768² = 2^31, which fits in
// 32 bits read as unsigned (the instruction's signed result only differs
// for exactly 2^31, and reading it unsigned undoes that), so the sums are
// zero-extended to 64 bits (PUNPCKLLQ/PUNPCKHLQ with zero) and added in
// 64-bit lanes: exact for any frame length a tick can have.
TEXT ·sumSquares16(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ blocks+8(FP), CX
	PXOR X0, X0 // two uint64 accumulators
	PXOR X1, X1 // two more
	PXOR X7, X7 // zero

loop:
	MOVOU   (SI), X2   // samples 0..7
	MOVOU   16(SI), X3 // samples 8..15
	PMADDWL X2, X2     // four pair sums of squares
	PMADDWL X3, X3
	MOVO    X2, X4
	MOVO    X3, X5
	PUNPCKLLQ X7, X2   // pair sums 0, 1 as uint64
	PUNPCKHLQ X7, X4   // pair sums 2, 3
	PUNPCKLLQ X7, X3
	PUNPCKHLQ X7, X5
	PADDQ   X2, X0
	PADDQ   X4, X1
	PADDQ   X3, X0
	PADDQ   X5, X1
	ADDQ    $32, SI
	DECQ    CX
	JNZ     loop

	PADDQ X1, X0
	MOVQ  X0, AX
	PSRLO $8, X0
	MOVQ  X0, BX
	ADDQ  BX, AX
	MOVQ  AX, ret+16(FP)
	RET
