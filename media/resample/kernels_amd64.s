//go:build amd64 && !purego

#include "textflag.h"

// Constants for rounding to int16 the way toInt16 does: clamp to
// [-32768, 32767], add ±0.5 (the sign of the value), truncate. Clamping
// first gives toInt16's saturation (32766.5 and up become 32767, -32767.5
// and down -32768) and keeps the truncation in range; in between it is
// exactly toInt16's float32 v±0.5 and conversion.
DATA maxf<>+0(SB)/8, $0x46fffe0046fffe00 // 32767.0
DATA maxf<>+8(SB)/8, $0x46fffe0046fffe00
DATA maxf<>+16(SB)/8, $0x46fffe0046fffe00
DATA maxf<>+24(SB)/8, $0x46fffe0046fffe00
GLOBL maxf<>(SB), RODATA|NOPTR, $32

DATA minf<>+0(SB)/8, $0xc7000000c7000000 // -32768.0
DATA minf<>+8(SB)/8, $0xc7000000c7000000
DATA minf<>+16(SB)/8, $0xc7000000c7000000
DATA minf<>+24(SB)/8, $0xc7000000c7000000
GLOBL minf<>(SB), RODATA|NOPTR, $32

DATA signf<>+0(SB)/8, $0x8000000080000000
DATA signf<>+8(SB)/8, $0x8000000080000000
DATA signf<>+16(SB)/8, $0x8000000080000000
DATA signf<>+24(SB)/8, $0x8000000080000000
GLOBL signf<>(SB), RODATA|NOPTR, $32

DATA halff<>+0(SB)/8, $0x3f0000003f000000 // 0.5
DATA halff<>+8(SB)/8, $0x3f0000003f000000
DATA halff<>+16(SB)/8, $0x3f0000003f000000
DATA halff<>+24(SB)/8, $0x3f0000003f000000
GLOBL halff<>(SB), RODATA|NOPTR, $32

// VPERMPS indices reversing the eight lanes.
DATA rev<>+0(SB)/8, $0x0000000600000007
DATA rev<>+8(SB)/8, $0x0000000400000005
DATA rev<>+16(SB)/8, $0x0000000200000003
DATA rev<>+24(SB)/8, $0x0000000000000001
GLOBL rev<>(SB), RODATA|NOPTR, $32

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// PACK rounds the eight float32 lanes of Y (X is its low half) to int16 as
// toInt16 does and stores them at off(SP). Clobbers Y15.
#define PACK(Y, X, off) \
	VMINPS     maxf<>(SB), Y, Y; \
	VMAXPS     minf<>(SB), Y, Y; \
	VANDPS     signf<>(SB), Y, Y15; \
	VORPS      halff<>(SB), Y15, Y15; \
	VADDPS     Y15, Y, Y; \
	VCVTTPS2DQ Y, Y; \
	VEXTRACTI128 $1, Y, X15; \
	VPACKSSDW  X15, X, X; \
	VMOVDQU    X, off(SP)

// MAC multiplies the broadcast coefficient at off(SI) into the sample
// vectors W0.. and adds the products to the accumulators A0...
#define MAC2(off, A0, A1) \
	VBROADCASTSS off(SI), Y14; \
	VFMADD231PS  Y12, Y14, A0; \
	VFMADD231PS  Y13, Y14, A1

#define MAC3(off, T, A0, A1, A2) \
	VBROADCASTSS off(SI), T; \
	VFMADD231PS  Y9, T, A0; \
	VFMADD231PS  Y10, T, A1; \
	VFMADD231PS  Y11, T, A2

#define MAC4(off, T, A0, A1, A2, A3) \
	VBROADCASTSS off(SI), T; \
	VFMADD231PS  Y8, T, A0; \
	VFMADD231PS  Y9, T, A1; \
	VFMADD231PS  Y10, T, A2; \
	VFMADD231PS  Y11, T, A3

// Register use in the interpolation kernels: DI dst, R8 coefficients, R9
// the first window of the block, R10 blocks left, R11 taps; per row SI
// points at the coefficients c[i·up:], BX at the samples w[k0+i:], CX
// counts rows. The block's outputs are rounded into a phase-major int16
// table on the stack (phase p's bs outputs at p·2·bs(SP)), then
// interleaved into dst.

// func interp6AVX2(dst *int16, c, w *float32, blocks, taps int)
// Blocks of 16 windows: accumulator Y(2p+v) holds phase p of windows
// k0+8v … k0+8v+7.
TEXT ·interp6AVX2(SB), NOSPLIT, $192-40
	MOVQ dst+0(FP), DI
	MOVQ c+8(FP), R8
	MOVQ w+16(FP), R9
	MOVQ blocks+24(FP), R10
	MOVQ taps+32(FP), R11

block6:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	MOVQ   R8, SI
	MOVQ   R9, BX
	MOVQ   R11, CX

row6:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	MAC2(0, Y0, Y1)
	MAC2(4, Y2, Y3)
	MAC2(8, Y4, Y5)
	MAC2(12, Y6, Y7)
	MAC2(16, Y8, Y9)
	MAC2(20, Y10, Y11)
	ADDQ    $4, BX
	ADDQ    $24, SI
	DECQ    CX
	JNZ     row6

	PACK(Y0, X0, 0)
	PACK(Y1, X1, 16)
	PACK(Y2, X2, 32)
	PACK(Y3, X3, 48)
	PACK(Y4, X4, 64)
	PACK(Y5, X5, 80)
	PACK(Y6, X6, 96)
	PACK(Y7, X7, 112)
	PACK(Y8, X8, 128)
	PACK(Y9, X9, 144)
	PACK(Y10, X10, 160)
	PACK(Y11, X11, 176)

	XORQ CX, CX

out6:
	MOVWLZX 0(SP)(CX*2), AX
	MOVW    AX, 0(DI)
	MOVWLZX 32(SP)(CX*2), AX
	MOVW    AX, 2(DI)
	MOVWLZX 64(SP)(CX*2), AX
	MOVW    AX, 4(DI)
	MOVWLZX 96(SP)(CX*2), AX
	MOVW    AX, 6(DI)
	MOVWLZX 128(SP)(CX*2), AX
	MOVW    AX, 8(DI)
	MOVWLZX 160(SP)(CX*2), AX
	MOVW    AX, 10(DI)
	ADDQ    $12, DI
	INCQ    CX
	CMPQ    CX, $16
	JLT     out6

	ADDQ $64, R9
	DECQ R10
	JNZ  block6
	VZEROUPPER
	RET

// func interp3AVX2(dst *int16, c, w *float32, blocks, taps int)
// Blocks of 24 windows: accumulator Y(3p+v) holds phase p of windows
// k0+8v … k0+8v+7.
TEXT ·interp3AVX2(SB), NOSPLIT, $144-40
	MOVQ dst+0(FP), DI
	MOVQ c+8(FP), R8
	MOVQ w+16(FP), R9
	MOVQ blocks+24(FP), R10
	MOVQ taps+32(FP), R11

block3:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	MOVQ   R8, SI
	MOVQ   R9, BX
	MOVQ   R11, CX

row3:
	VMOVUPS (BX), Y9
	VMOVUPS 32(BX), Y10
	VMOVUPS 64(BX), Y11
	MAC3(0, Y12, Y0, Y1, Y2)
	MAC3(4, Y13, Y3, Y4, Y5)
	MAC3(8, Y14, Y6, Y7, Y8)
	ADDQ    $4, BX
	ADDQ    $12, SI
	DECQ    CX
	JNZ     row3

	PACK(Y0, X0, 0)
	PACK(Y1, X1, 16)
	PACK(Y2, X2, 32)
	PACK(Y3, X3, 48)
	PACK(Y4, X4, 64)
	PACK(Y5, X5, 80)
	PACK(Y6, X6, 96)
	PACK(Y7, X7, 112)
	PACK(Y8, X8, 128)

	XORQ CX, CX

out3:
	MOVWLZX 0(SP)(CX*2), AX
	MOVW    AX, 0(DI)
	MOVWLZX 48(SP)(CX*2), AX
	MOVW    AX, 2(DI)
	MOVWLZX 96(SP)(CX*2), AX
	MOVW    AX, 4(DI)
	ADDQ    $6, DI
	INCQ    CX
	CMPQ    CX, $24
	JLT     out3

	ADDQ $96, R9
	DECQ R10
	JNZ  block3
	VZEROUPPER
	RET

// func interp2AVX2(dst *int16, c, w *float32, blocks, taps int)
// Blocks of 32 windows: accumulator Y(4p+v) holds phase p of windows
// k0+8v … k0+8v+7.
TEXT ·interp2AVX2(SB), NOSPLIT, $128-40
	MOVQ dst+0(FP), DI
	MOVQ c+8(FP), R8
	MOVQ w+16(FP), R9
	MOVQ blocks+24(FP), R10
	MOVQ taps+32(FP), R11

block2:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   R8, SI
	MOVQ   R9, BX
	MOVQ   R11, CX

row2:
	VMOVUPS (BX), Y8
	VMOVUPS 32(BX), Y9
	VMOVUPS 64(BX), Y10
	VMOVUPS 96(BX), Y11
	MAC4(0, Y12, Y0, Y1, Y2, Y3)
	MAC4(4, Y13, Y4, Y5, Y6, Y7)
	ADDQ    $4, BX
	ADDQ    $8, SI
	DECQ    CX
	JNZ     row2

	PACK(Y0, X0, 0)
	PACK(Y1, X1, 16)
	PACK(Y2, X2, 32)
	PACK(Y3, X3, 48)
	PACK(Y4, X4, 64)
	PACK(Y5, X5, 80)
	PACK(Y6, X6, 96)
	PACK(Y7, X7, 112)

	// Interleave phase 0 (0(SP)) and phase 1 (64(SP)) 8 outputs at a time.
	VMOVDQU    0(SP), X0
	VMOVDQU    64(SP), X1
	VPUNPCKLWD X1, X0, X2
	VPUNPCKHWD X1, X0, X3
	VMOVDQU    X2, 0(DI)
	VMOVDQU    X3, 16(DI)
	VMOVDQU    16(SP), X0
	VMOVDQU    80(SP), X1
	VPUNPCKLWD X1, X0, X2
	VPUNPCKHWD X1, X0, X3
	VMOVDQU    X2, 32(DI)
	VMOVDQU    X3, 48(DI)
	VMOVDQU    32(SP), X0
	VMOVDQU    96(SP), X1
	VPUNPCKLWD X1, X0, X2
	VPUNPCKHWD X1, X0, X3
	VMOVDQU    X2, 64(DI)
	VMOVDQU    X3, 80(DI)
	VMOVDQU    48(SP), X0
	VMOVDQU    112(SP), X1
	VPUNPCKLWD X1, X0, X2
	VPUNPCKHWD X1, X0, X3
	VMOVDQU    X2, 96(DI)
	VMOVDQU    X3, 112(DI)
	ADDQ       $128, DI

	ADDQ $128, R9
	DECQ R10
	JNZ  block2
	VZEROUPPER
	RET

// func dotSymAVX2(dst *int16, h *float32, c int, w *float32, n, step int)
// Two outputs at a time (windows A at R9 and B at R9+AX), sharing the
// coefficient loads: for each, Σ_{k<c} h[k]·(w[k] + w[2c-k]) in four
// accumulators of eight lanes (the w[2c-k] eight at a time, lane-reversed
// by VPERMPS), a horizontal sum, plus h[c]·w[c], rounded like toInt16. A
// last odd output is computed as a pair with B = A, so every output gets
// exactly the same arithmetic however the outputs are grouped.
TEXT ·dotSymAVX2(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    h+8(FP), R8
	MOVQ    c+16(FP), R11
	MOVQ    w+24(FP), R9
	MOVQ    n+32(FP), R10
	MOVQ    step+40(FP), R12
	SHLQ    $2, R12       // step in bytes
	MOVQ    R11, R13
	SHLQ    $3, R13
	SUBQ    $28, R13      // (2c-7)·4: offset of w[2c-7 … 2c]
	MOVQ    R11, R14
	SHLQ    $2, R14       // c·4: offset of the centre tap
	VMOVDQU rev<>(SB), Y15

sym:
	MOVQ   R12, AX          // B - A in bytes
	CMPQ   R10, $2
	JGE    sympair
	XORQ   AX, AX           // last, odd output: B = A

sympair:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   R9, SI           // w[k …]
	LEAQ   (R9)(R13*1), BX  // w[2c-k-7 … 2c-k]
	MOVQ   R8, DX           // h[k …]
	MOVQ   R11, CX          // k left

#define SYM(off, A, B) \
	VMOVUPS     off(DX), Y8; \
	VMOVUPS     off(SI), Y9; \
	VPERMPS     -off(BX), Y15, Y10; \
	VADDPS      Y10, Y9, Y9; \
	VFMADD231PS Y8, Y9, A; \
	VMOVUPS     off(SI)(AX*1), Y11; \
	VPERMPS     -off(BX)(AX*1), Y15, Y12; \
	VADDPS      Y12, Y11, Y11; \
	VFMADD231PS Y8, Y11, B

sym32:
	CMPQ CX, $32
	JLT  sym8
	SYM(0, Y0, Y4)
	SYM(32, Y1, Y5)
	SYM(64, Y2, Y6)
	SYM(96, Y3, Y7)
	ADDQ $128, SI
	SUBQ $128, BX
	ADDQ $128, DX
	SUBQ $32, CX
	JMP  sym32

sym8:
	CMPQ CX, $8
	JLT  symdone
	SYM(0, Y0, Y4)
	ADDQ $32, SI
	SUBQ $32, BX
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  sym8

symdone:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VADDPS       Y5, Y4, Y4
	VADDPS       Y7, Y6, Y6
	VADDPS       Y6, Y4, Y4
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VEXTRACTF128 $1, Y4, X5
	VADDPS       X5, X4, X4
	VHADDPS      X4, X0, X0 // A01 A23 B01 B23
	VHADDPS      X0, X0, X0 // A B A B
	LEAQ         (R9)(AX*1), DX
	VMOVSS       (R9)(R14*1), X1
	VINSERTPS    $0x10, (DX)(R14*1), X1, X1 // w_A[c] w_B[c] 0 0
	VBROADCASTSS (R8)(R14*1), X2
	VMULPS       X2, X1, X1
	VADDPS       X1, X0, X0

	VMINPS     maxf<>(SB), X0, X0
	VMAXPS     minf<>(SB), X0, X0
	VANDPS     signf<>(SB), X0, X1
	VORPS      halff<>(SB), X1, X1
	VADDPS     X1, X0, X0
	VCVTTPS2DQ X0, X0
	VPACKSSDW  X0, X0, X0
	VMOVD      X0, BX

	CMPQ R10, $2
	JLT  symlast
	MOVL BX, (DI)
	ADDQ $4, DI
	LEAQ (R9)(R12*2), R9
	SUBQ $2, R10
	JNZ  sym
	VZEROUPPER
	RET

symlast:
	MOVW BX, (DI)
	VZEROUPPER
	RET
