; guest.asm: pivotcheck's 512-byte guest (nasm -f bin -o guest.bin guest.asm).
; SeaBIOS boots it from the virtio disk (pc/i440fx machine). It sleeps in hlt and answers
; one-byte commands on COM1, which QEMU connects to the domain's serial unix socket, so the
; harness can drive it whether libvirtd runs or not:
;   '?'        -> 'r'                     (alive probe: the guest has booted)
;   '1'..'3'   -> write LBA n (disk offset 512*n) filled with byte 0xA0+n through BIOS
;                 int 13h, which SeaBIOS turns into a virtio-blk write; ack 'a'..'c' once
;                 the BIOS returned (the write is acknowledged), 'E' on a BIOS error
;   'P'        -> 'p', then ACPI S5 soft-off: QEMU reports SHUTDOWN (guest-shutdown)
; The PIIX4 PM I/O base comes from PCI 00:01.3 register 0x40 (SeaBIOS sets it).
bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    mov [drive], dl
    ; PM base: PCI config address 0x80000000 | bus 0 dev 1 fn 3 | reg 0x40
    mov eax, 0x80000B40
    mov dx, 0x0cf8
    out dx, eax
    mov dx, 0x0cfc
    in eax, dx
    and ax, 0xffc0
    mov [pm], ax
    ; COM1 "received data" interrupt on IRQ4 (vector 0x0c) ends each hlt at once
    mov word [0x0c*4], on_irq4
    mov word [0x0c*4+2], 0
    mov dx, 0x3f9              ; IER
    mov al, 1
    out dx, al
    mov dx, 0x3fc              ; MCR: DTR, RTS, OUT2 (OUT2 gates the IRQ)
    mov al, 0x0b
    out dx, al
    in al, 0x21
    and al, 0xef               ; unmask IRQ4
    out 0x21, al
    sti

next:
    mov dx, 0x3fd              ; LSR: data ready?
    in al, dx
    test al, 1
    jnz .byte
    hlt                        ; woken by IRQ4 or the BIOS timer
    jmp next
.byte:
    mov dx, 0x3f8
    in al, dx
    cmp al, '?'
    je probe
    cmp al, 'P'
    je off
    cmp al, '1'
    jb next
    cmp al, '3'
    ja next
    ; write LBA n = al - '0' with pattern 0xA0 + n
    sub al, '0'
    mov [lba], al
    add al, 0xa0
    mov di, 0x8000
    mov cx, 512
    rep stosb
    mov ax, 0x0301             ; int 13h AH=3 write, AL=1 sector
    xor ch, ch                 ; cylinder 0
    mov cl, [lba]
    inc cl                     ; CHS sector = LBA + 1
    xor dh, dh                 ; head 0
    mov dl, [drive]
    mov bx, 0x8000
    int 0x13
    mov al, 'E'
    jc .ack
    mov al, [lba]
    add al, 'a' - 1
.ack:
    call putc
    jmp next

probe:
    mov al, 'r'
    call putc
    jmp next

off:
    mov al, 'p'
    call putc
    mov dx, [pm]
    add dx, 4                  ; PM1a_CNT
    mov ax, 0x2000             ; SLP_EN | SLP_TYP 0 = S5 on PIIX4
    out dx, ax
.halt:
    cli
    hlt
    jmp .halt

on_irq4:
    push ax
    mov al, 0x20               ; EOI to the master PIC
    out 0x20, al
    pop ax
    iret

putc:
    mov dx, 0x3f8
    out dx, al
    ret

pm:    dw 0
drive: db 0x80
lba:   db 0

times 510-($-$$) db 0
dw 0xaa55
